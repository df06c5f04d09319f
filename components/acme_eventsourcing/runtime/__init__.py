"""The runtime library: the code that runs in Lambda, for any event-sourced service.

Standard library and boto3 only, never pulumi. Modules are imported piecemeal, so a
function's zip holds only what its handler imports (`acme_eventsourcing._lambda.package_code`
ships them): `eventstore` (ports and adapters of the append-only store), `handler` (entry
points built from the environment), `publisher` (the stream -> bus publisher and the Pipe
enrichment a component deploys itself), `envelopes` (bus events back into stored events),
`projections` (the projector runtime, read-model stores, rebuild and the read-model reader of
query functions), `subscriber` (the runtime of a subscription to other services' events),
`workflows` (the trigger a `Workflow` deploys itself: start and stop Step Functions
executions named after bus events).
"""

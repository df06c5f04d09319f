"""A bounded schemathesis pass against a running leave API (no tests here).

Used by `test_schemathesis.py` (a small pass in the suite) and by
`benchmarks/bench_schemathesis.py` (a bigger one). The pass loads the API's own
`/openapi.json`, then runs schemathesis's engine (the one its CLI drives) with every check
enabled - no 5xx, status codes, content types, headers and bodies as documented, negative
data rejected, positive data accepted, a missing token refused, stateful sequences along
the document's links - except the known tool limitations below, each with its reason.

Each limitation is a place where schemathesis's expectation differs from what API Gateway
(and so this API) does on purpose; every other failure is a bug to fix, not to list here.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

EXCLUDED_CHECKS: dict[str, str] = {
    "unsupported_method": (
        "expects 405 for a method the document does not list; API Gateway HTTP APIs route on "
        '"METHOD /path" keys, so a method no route declares is a 404 {"message":"Not Found"} '
        "(the local stack answers the same, and the 404 is still checked to be no 5xx)"
    ),
}

#: Statuses that reject schema-valid data for a documented reason the schema cannot express.
DOMAIN_REJECTIONS = ["422"]
DOMAIN_REJECTIONS_REASON = (
    "positive_data_acceptance expects schema-valid data to be accepted; a schema-valid command may "
    "still break a domain rule (422 rule_violated, e.g. not enough days left) or reuse an "
    "Idempotency-Key with another body (422 idempotency_key_reused: the tool repeats header values "
    "across bodies), which the contract answers with 422 on purpose"
)
CROSS_FIELD_OPERATIONS: dict[str, str] = {
    "request_leave": "body.end before body.start",
    "add_past_leave": "body.end before body.start",
    "get_calendar": "query.to before query.from",
}
CROSS_FIELD_REASON = (
    "JSON Schema cannot relate two fields' values, so a date range that ends before it starts is "
    "schema-valid to the tool; the API answers 400 naming the field, so 400 counts as a documented "
    "rejection of positive data on these operations only"
)

DEFAULT_REJECTIONS = ["2XX", "401", "403", "404", "409"]  # schemathesis's defaults for the check (minus 3xx, 429, 5xx)
#: A read-model query's documented 304: the tool fills the declared `If-None-Match` header (`*`
#: matches any answer), and the query then answers Not Modified, as the document says it will.
NOT_MODIFIED = ["304"]


@dataclass(frozen=True)
class Finding:
    """One failed check, with the request and response that show it."""

    phase: str
    operation: str
    check: str
    title: str
    message: str
    status: int | None
    request: str
    response: str

    def render(self) -> str:
        return (
            f"[{self.phase}] {self.operation}: {self.check} - {self.title}\n"
            f"    {self.message.strip().splitlines()[0] if self.message.strip() else ''}\n"
            f"    request  {self.request}\n    response {self.status} {self.response}"
        )


@dataclass
class PassResult:
    """What one pass did: operations, cases per phase, failures, why it stopped."""

    operations: int
    cases: Counter[str] = field(default_factory=Counter)
    scenarios: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    links: Counter[str] = field(default_factory=Counter)  # stateful steps taken along a document link, by link
    inferred: Counter[str] = field(default_factory=Counter)  # ... along a link schemathesis inferred itself
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop_reason: str = ""
    seconds: float = 0.0

    @property
    def total_cases(self) -> int:
        return sum(self.cases.values())

    def distinct_findings(self) -> list[Finding]:
        seen: dict[tuple[str, str, str, int | None], Finding] = {}
        for finding in self.findings:
            seen.setdefault((finding.operation, finding.check, finding.title, finding.status), finding)
        return list(seen.values())

    def summary(self) -> str:
        phases = ", ".join(f"{phase} {count}" for phase, count in sorted(self.cases.items()))
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        lines = [
            f"schemathesis: {self.operations} operations, {self.total_cases} cases ({phases}) in {self.seconds:.1f} s, "
            f"stopped: {self.stop_reason}",
            f"  responses by status: {statuses}",
            f"  stateful steps along document links: {sum(self.links.values())} ({len(self.links)} links: "
            f"{', '.join(sorted(self.links))}); along inferred links: {sum(self.inferred.values())}",
            f"  failures: {len(self.findings)} failed checks, {len(self.distinct_findings())} distinct; errors: {len(self.errors)}",
            *(f"  - {f.render()}" for f in self.distinct_findings()),
            *(f"  ! {e}" for e in self.errors),
        ]
        return "\n".join(lines)


PHASES = ("examples", "coverage", "fuzzing", "stateful")


def config(token: str, *, max_examples: int, max_time: int, max_steps: int, seed: int | None, phases: tuple[str, ...] = PHASES) -> Any:
    """The schemathesis configuration of a pass (what a `schemathesis.toml` would say)."""
    import schemathesis

    positive = {"positive_data_acceptance": {"expected-statuses": [*DEFAULT_REJECTIONS, *NOT_MODIFIED, *DOMAIN_REJECTIONS]}}
    data: dict[str, Any] = {
        "max-time": max_time,
        "headers": {"Authorization": f"Bearer {token}"},
        "request-timeout": 10,
        "generation": {"max-examples": max_examples, "database": "none"},
        "phases": {
            **{phase: {"enabled": phase in phases} for phase in PHASES},
            "stateful": {"enabled": "stateful" in phases, "max-steps": max_steps},
        },
        "checks": {**{name: {"enabled": False} for name in EXCLUDED_CHECKS}, **positive},
        "operations": [
            {
                "include-operation-id": sorted(CROSS_FIELD_OPERATIONS),
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": [*DEFAULT_REJECTIONS, *NOT_MODIFIED, *DOMAIN_REJECTIONS, "400"]}
                },
            }
        ],
    }
    if seed is not None:
        data["seed"] = seed
    return schemathesis.Config.from_dict(data)


def run_pass(
    api_url: str,
    token: str,
    *,
    max_examples: int,
    max_time: int,
    max_steps: int = 8,
    seed: int | None = 1,
    phases: tuple[str, ...] = PHASES,
) -> PassResult:
    """Run schemathesis against `api_url` (whose `/openapi.json` it loads) as the bearer of
    `token`: the given `phases`, `max_examples` per operation (and per stateful run),
    `max_steps` per stateful scenario, all within `max_time` seconds."""
    import schemathesis
    from schemathesis.engine import events, from_schema

    started = time.perf_counter()
    schema = schemathesis.openapi.from_url(
        api_url + "/openapi.json",
        config=config(token, max_examples=max_examples, max_time=max_time, max_steps=max_steps, seed=seed, phases=phases),
    )
    operations = sum(
        1 for item in schema.raw_schema["paths"].values() for method in item if method in {"get", "put", "post", "delete", "patch"}
    )
    result = PassResult(operations=operations)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            phase = str(event.phase.value)
            recorder = event.recorder
            result.scenarios[phase] += 1
            result.cases[phase] += len(recorder.cases)
            for node in recorder.cases.values():
                if node.transition is not None:
                    (result.inferred if node.transition.is_inferred else result.links)[node.transition.id] += 1
            for case_id, interaction in recorder.interactions.items():
                if interaction.response is not None and case_id in recorder.cases:
                    result.statuses[interaction.response.status_code] += 1
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        result.findings.append(_finding(phase, recorder, case_id, check))
        elif isinstance(event, events.NonFatalError):
            result.errors.append(f"{event.label}: {event.info.format()[:500]}")
        elif isinstance(event, events.FatalError):
            result.errors.append(f"fatal: {event.exception!r}"[:500])
        elif isinstance(event, events.EngineFinished):
            result.stop_reason = str(event.stop_reason.value)
    result.seconds = time.perf_counter() - started
    return result


def _finding(phase: str, recorder: Any, case_id: str, check: Any) -> Finding:
    failure = check.failure_info.failure
    interaction = recorder.interactions.get(case_id)
    request = response = ""
    status = None
    if interaction is not None:
        body = (interaction.request.body or b"")[:300]
        request = f"{interaction.request.method} {interaction.request.uri} {body.decode('utf-8', 'replace')}".strip()
        if interaction.response is not None:
            status = interaction.response.status_code
            response = interaction.response.content[:300].decode("utf-8", "replace")
    label = failure.operation or recorder.label
    return Finding(phase, label, check.name, str(failure.title), str(failure.message), status, request, response)


def limitations() -> str:
    """The documented tool limitations, one per line (for reports)."""
    lines = [f"{name}: {reason}" for name, reason in EXCLUDED_CHECKS.items()]
    lines.append(f"positive_data_acceptance 422: {DOMAIN_REJECTIONS_REASON}")
    lines.append(f"positive_data_acceptance 400 on {json.dumps(CROSS_FIELD_OPERATIONS)}: {CROSS_FIELD_REASON}")
    return "\n".join(lines)

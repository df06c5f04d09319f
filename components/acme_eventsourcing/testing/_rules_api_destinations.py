"""Rules on EventBridge API destinations: failures kept, rate limited, secrets secret, roles scoped.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters, and `check(stack)` returns one `Violation` per offending resource
and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._policy_core import Violation
from ._policy_view import QUEUE, ROLE, TARGET, StackView, _number, get
from .harness import RecordedResource, RecordedStack

API_DESTINATION = "aws:cloudwatch/eventApiDestination:EventApiDestination"
CONNECTION = "aws:cloudwatch/eventConnection:EventConnection"
INVOKE_ACTION = "events:InvokeApiDestination"
#: Where each authorization type keeps its credential, in the connection's inputs.
SECRET_INPUTS: dict[str, tuple[str, ...]] = {
    "API_KEY": ("authParameters", "apiKey", "value"),
    "BASIC": ("authParameters", "basic", "password"),
    "OAUTH_CLIENT_CREDENTIALS": ("authParameters", "oauth", "clientParameters", "clientSecret"),
}


def _destination_targets(view: StackView) -> list[tuple[RecordedResource, RecordedResource | None]]:
    """Every rule target whose ARN is an API destination: (target, the destination if declared here)."""
    out = []
    for t in view.of_type(TARGET):
        arn = t.inputs.get("arn")
        destination = view.find(API_DESTINATION, arn)
        if destination is not None or (isinstance(arn, str) and ":api-destination/" in arn):
            out.append((t, destination))
    return out


class _DestinationTargetRule:
    #: A stack with no API destination has nothing for these rules to examine.
    resource_types: ClassVar[tuple[str, ...]] = (API_DESTINATION,)

    def checked(self, stack: RecordedStack) -> int:
        """How many API destination targets the rule examined."""
        return len(_destination_targets(StackView.of(stack)))


@dataclass(frozen=True)
class DestinationTargetsHandleFailures(_DestinationTargetRule):
    id: ClassVar[str] = "APD001"
    title: ClassVar[str] = "Every API destination target has a DLQ declared here and a bounded retry policy"
    rationale: ClassVar[str] = (
        "An HTTP endpoint outside AWS fails in ways a function does not (down, throttling, a revoked "
        "credential): the target keeps what it could not deliver in a dead-letter queue of this stack, "
        "and says how often (maximum_retry_attempts) and how long (maximum_event_age_in_seconds) to retry, "
        "so a message arrives late at most that much, or lands in the DLQ (alarmed)."
    )
    max_event_age_s: int = 86400

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for t, _destination in _destination_targets(view):
            problems = []
            dlq = get(t.inputs, "deadLetterConfig", "arn")
            if not dlq:
                problems.append("no dead_letter_config")
            elif view.find(QUEUE, dlq) is None:
                problems.append(f"its DLQ {dlq!r} is not a queue declared in this stack")
            retries = _number(get(t.inputs, "retryPolicy", "maximumRetryAttempts"))
            if retries is None or retries < 0:
                problems.append("no retry_policy.maximum_retry_attempts")
            age = _number(get(t.inputs, "retryPolicy", "maximumEventAgeInSeconds"))
            if age is None or not 60 <= age <= self.max_event_age_s:
                problems.append(f"retry_policy.maximum_event_age_in_seconds must be set within 60..{self.max_event_age_s}")
            if problems:
                out.append(Violation.of(self.id, t, f"API destination target {t.inputs.get('arn')!r}: {'; '.join(problems)}"))
        return out


@dataclass(frozen=True)
class DestinationsRateLimited:
    id: ClassVar[str] = "APD002"
    title: ClassVar[str] = "Every API destination sets its invocation rate limit"
    rationale: ClassVar[str] = (
        "Without invocation_rate_limit_per_second EventBridge sends up to 300 requests per second: a burst "
        "of events (a replay, a rollover) would hit the endpoint's own limit and burn the retries. Set it to "
        "what the endpoint accepts (Slack: about 1 message per second per channel)."
    )
    resource_types: ClassVar[tuple[str, ...]] = (API_DESTINATION,)
    max_per_second: int = 300

    def checked(self, stack: RecordedStack) -> int:
        """How many API destinations the rule examined."""
        return len(StackView.of(stack).of_type(API_DESTINATION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for d in StackView.of(stack).of_type(API_DESTINATION):
            rate = _number(d.inputs.get("invocationRateLimitPerSecond"))
            if rate is None or not 1 <= rate <= self.max_per_second:
                out.append(
                    Violation.of(self.id, d, f"invocation_rate_limit_per_second is {rate!r}; set it within 1..{self.max_per_second}")
                )
        return out


@dataclass(frozen=True)
class ConnectionSecretsNotPlain:
    id: ClassVar[str] = "APD003"
    title: ClassVar[str] = "A connection's credential is a Pulumi secret, and no output shows it"
    rationale: ClassVar[str] = (
        "The connection's API key, password or client secret is read from a secret config value "
        "(pulumi config set --secret ...): marked secret, it is encrypted in the state and masked in "
        "previews. Given as a plain string it is stored in clear text; exported, it leaks."
    )
    resource_types: ClassVar[tuple[str, ...]] = (CONNECTION,)

    def checked(self, stack: RecordedStack) -> int:
        """How many connections the rule examined."""
        return len(StackView.of(stack).of_type(CONNECTION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        exported = _strings(stack.outputs)
        for c in StackView.of(stack).of_type(CONNECTION):
            kind = str(c.inputs.get("authorizationType"))
            path = SECRET_INPUTS.get(kind)
            if path is None:
                out.append(Violation.of(self.id, c, f"authorization_type {kind!r} is not API_KEY, BASIC or OAUTH_CLIENT_CREDENTIALS"))
                continue
            value = get(c.inputs, *path)
            if not value:
                out.append(Violation.of(self.id, c, f"{kind}: no credential at {'.'.join(path)}"))
            elif not c.is_secret(*path):
                out.append(Violation.of(self.id, c, f"{kind}: {'.'.join(path)} is a plain value; read it with config.require_secret"))
            elif str(value) in exported:
                out.append(Violation.of(self.id, c, f"{kind}: a stack output shows the credential"))
        return out


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {s for v in value.values() for s in _strings(v)}
    if isinstance(value, list | tuple):
        return {s for v in value for s in _strings(v)}
    return {value} if isinstance(value, str) else set()


@dataclass(frozen=True)
class DestinationRolesScoped(_DestinationTargetRule):
    id: ClassVar[str] = "APD004"
    title: ClassVar[str] = "The role EventBridge assumes for an API destination can invoke that destination only"
    rationale: ClassVar[str] = (
        "EventBridge calls an API destination as the target's role (role_arn). That role is declared "
        "in the stack and allows events:InvokeApiDestination on the exact ARNs of the destinations its "
        "targets name, and nothing else: no wildcard, no other action."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        roles: dict[str, tuple[RecordedResource, set[str], list[RecordedResource]]] = {}
        for t, _destination in _destination_targets(view):
            role = view.find(ROLE, t.inputs.get("roleArn"))
            if role is None:
                out.append(Violation.of(self.id, t, f"role_arn {t.inputs.get('roleArn')!r} is not a role declared in this stack"))
                continue
            entry = roles.setdefault(role.urn, (role, set(), []))
            entry[1].add(str(t.inputs.get("arn")))
            entry[2].append(t)
        for role, destinations, _targets in roles.values():
            problems = []
            invokes = False
            for doc, st in view.allow_statements(role):
                where = f"role {role.name!r} {doc.where}: {st.label}"
                if st.not_actions is not None or st.not_resources is not None:
                    problems.append(f"{where} uses NotAction/NotResource")
                    continue
                for a in st.actions:
                    if a != INVOKE_ACTION:  # a wildcard covering it (events:*, events:Invoke*) allows more
                        problems.append(f"{where} allows {a!r}; only {INVOKE_ACTION} is needed")
                        continue
                    extra = [r for r in st.resources if r not in destinations]
                    if extra:
                        problems.append(f"{where} allows {a!r} on {extra}, not only {sorted(destinations)}")
                    else:
                        invokes = True
            if not invokes:
                problems.append(f"role {role.name!r} does not allow {INVOKE_ACTION} on {sorted(destinations)}")
            if problems:
                out.append(Violation.of(self.id, role, "; ".join(problems)))
        return out

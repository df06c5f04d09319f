"""Rules on WebSocket APIs (live updates): an authorised `$connect`, logged and throttled stages,
`ManageConnections` scoped to one API's stage, connections tables with TTL and a customer key.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the fields
are its parameters, and `check(stack)` returns one `Violation` per offending resource and reason
(see `_policy_rules`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from ._policy_core import Violation
from ._policy_view import API, AUTHORIZER, FUNCTION, ROUTE, STAGE, TABLE, StackView, _number, get
from .harness import RecordedResource, RecordedStack

WEBSOCKET = "WEBSOCKET"
#: The function environment variable that names a live-updates connections table (the runtime's).
CONNECTIONS_TABLE_VARIABLE = "CONNECTIONS_TABLE"
#: Access log fields a WebSocket stage's log line must carry (which connection, what happened).
WEBSOCKET_LOG_FIELDS = ("$context.connectionId", "$context.eventType", "$context.routeKey", "$context.status")
#: A ManageConnections resource scoped to one API's one stage: `.../<api id>/<stage>/<METHOD>/@connections/...`.
_MANAGE_RESOURCE = re.compile(
    r"^arn:aws[a-z-]*:execute-api:[a-z0-9-]+:\d{12}:[a-z0-9]+/[A-Za-z0-9_-]+/(POST|GET|DELETE)/@connections/(\*|[^*?]+)$"
)
_MANAGE_ACTION = "execute-api:ManageConnections"


def _websocket_apis(view: StackView) -> list[RecordedResource]:
    return [a for a in view.of_type(API) if a.inputs.get("protocolType") == WEBSOCKET]


@dataclass(frozen=True)
class ConnectAuthorized:
    id: ClassVar[str] = "WSK001"
    title: ClassVar[str] = "Every WebSocket API authorises $connect with a REQUEST authorizer reading an identity source"
    rationale: ClassVar[str] = (
        "A WebSocket API authorises a client once, when it connects; every message it then receives "
        "rides on that connection. Without an authorizer on $connect (or with one that names no "
        "identity source, so API Gateway calls it without a token) anyone may listen."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many WebSocket APIs the rule examined."""
        return len(_websocket_apis(StackView.of(stack)))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for api in _websocket_apis(view):
            connect = [r for r in view.referencing(ROUTE, "apiId", api.id) if r.inputs.get("routeKey") == "$connect"]
            if not connect:
                out.append(Violation.of(self.id, api, "WebSocket API has no $connect route, so nothing authorises its connections"))
                continue
            for route in connect:
                kind = route.inputs.get("authorizationType") or "NONE"
                if kind == "AWS_IAM":
                    continue
                if kind != "CUSTOM":
                    out.append(Violation.of(self.id, route, f"$connect has authorization_type {kind!r}: anyone may connect"))
                    continue
                authorizer = view.find(AUTHORIZER, route.inputs.get("authorizerId"))
                if authorizer is None:
                    out.append(Violation.of(self.id, route, "$connect names no authorizer of the stack"))
                elif authorizer.inputs.get("authorizerType") != "REQUEST" or not authorizer.inputs.get("identitySources"):
                    out.append(
                        Violation.of(self.id, authorizer, "the $connect authorizer must be REQUEST with identity_sources (the token)")
                    )
        return out


@dataclass(frozen=True)
class WebSocketStagesLoggedAndThrottled:
    log_fields: tuple[str, ...] = WEBSOCKET_LOG_FIELDS

    id: ClassVar[str] = "WSK002"
    title: ClassVar[str] = "Every WebSocket API has a stage, throttled and access-logged with connection ids"
    rationale: ClassVar[str] = (
        "Throttling caps what connecting clients can cost; the access log, with the connection id and "
        "event type of each connect, message and disconnect, is the record of who listened when."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many WebSocket APIs the rule examined."""
        return len(_websocket_apis(StackView.of(stack)))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for api in _websocket_apis(view):
            stages = view.referencing(STAGE, "apiId", api.id)
            if not stages:
                out.append(Violation.of(self.id, api, "WebSocket API has no stage"))
            for stage in stages:
                problems = [
                    f"default_route_settings.{name} is not a positive number"
                    for name, key in (("throttling_burst_limit", "throttlingBurstLimit"), ("throttling_rate_limit", "throttlingRateLimit"))
                    if (_number(get(stage.inputs, "defaultRouteSettings", key)) or 0) <= 0
                ]
                fmt = get(stage.inputs, "accessLogSettings", "format")
                if not get(stage.inputs, "accessLogSettings", "destinationArn") or not isinstance(fmt, str):
                    problems.append("no access_log_settings (destination_arn and format)")
                elif missing := [f for f in self.log_fields if f not in fmt]:
                    problems.append(f"the access log format lacks {missing}")
                if problems:
                    out.append(Violation.of(self.id, stage, "; ".join(problems)))
        return out


@dataclass(frozen=True)
class ManageConnectionsScoped:
    id: ClassVar[str] = "WSK003"
    title: ClassVar[str] = "execute-api:ManageConnections is granted on one API's one stage, never on a wildcard"
    rationale: ClassVar[str] = (
        "ManageConnections lets a role post to, read and close any connection it covers: on `*` (or a "
        "wildcard API id or stage) one function could speak to every client of every WebSocket API of "
        "the account. Grant it on `<execution ARN>/<stage>/POST/@connections/*`."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many identity policy documents the rule examined."""
        return len(StackView.of(stack).identity_documents)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for doc in view.identity_documents:
            for s in doc.statements:
                if not s.allow or not s.grants_action(_MANAGE_ACTION):
                    continue
                if s.not_resources is not None:
                    out.append(Violation.of(self.id, doc.source, f"{doc.where}: {s.label} grants ManageConnections with NotResource"))
                    continue
                bad = [r for r in s.resources if not _MANAGE_RESOURCE.match(r)]
                if bad:
                    message = f"{doc.where}: {s.label} grants ManageConnections on {bad}, not on one API's stage @connections"
                    out.append(Violation.of(self.id, doc.source, message))
        return out


@dataclass(frozen=True)
class ConnectionsTablesExpireAndEncrypt:
    variable: str = CONNECTIONS_TABLE_VARIABLE

    id: ClassVar[str] = "WSK004"
    title: ClassVar[str] = "Every connections table (a function's CONNECTIONS_TABLE) has TTL enabled and a customer-managed key"
    rationale: ClassVar[str] = (
        "A connection's items say who listens to what: without TTL, connections whose $disconnect was "
        "lost stay forever (and get messages attempted); they are personal data, encrypted with a key "
        "the owner controls."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many connections tables the rule examined."""
        return len(self._tables(StackView.of(stack)))

    def _tables(self, view: StackView) -> list[RecordedResource]:
        found: dict[str, RecordedResource] = {}
        for fn in view.of_type(FUNCTION):
            name = get(fn.inputs, "environment", "variables", self.variable)
            table = view.find(TABLE, name)
            if table is not None:
                found.setdefault(table.urn, table)
        return list(found.values())

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for table in self._tables(StackView.of(stack)):
            ttl = table.inputs.get("ttl") or {}
            if not ttl.get("enabled") or not ttl.get("attributeName"):
                out.append(Violation.of(self.id, table, "connections table has no enabled TTL attribute"))
            sse = table.inputs.get("serverSideEncryption") or {}
            if not sse.get("enabled") or not sse.get("kmsKeyArn"):
                out.append(Violation.of(self.id, table, "connections table is not encrypted with a customer-managed KMS key"))
        return out

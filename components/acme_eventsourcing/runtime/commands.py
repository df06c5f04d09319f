"""The command side's HTTP edge: one declaration per command, one generic commands function.

A service declares each command once, as plain data plus two small functions:

    PLACE_ORDER = CommandDecl(
        name="place_order",                              # operationId; names the route
        method="POST", path="/customers/{customer_id}/orders",
        body=PLACE_ORDER_SCHEMA,                         # JSON Schema (`validation` subset)
        parameters={"customer_id": ID},                  # path parameter schemas
        response=ORDER_PLACED_SCHEMA, status=201,
        summary="Place an order", who="the customer",
        command=PlaceOrder,                              # the domain command it builds
        build=lambda params, body, caller: PlaceOrder(customer_id=params["customer_id"], by=caller.id, ...),
        result=lambda command, events: {"order_id": events[0].order_id},
    )

`CommandsApp(declarations, service, store)` serves them all, for every command the same way:
match the route (404/405), take the caller from the verified JWT claims (401; the one
identity claim the deployment names in `IDENTITY_CLAIM`), validate path parameters and the
JSON body against the schemas (400 naming the field; 413, 415), check the
`Idempotency-Key` header (400), run the declaration's `authorize` and `check` hooks,
`build` the domain command, let the application service `execute` it (it loads, decides,
appends with read guards and the idempotency record in one transaction, and retries lost
races; see `service.ApplicationService`), and answer the declaration's status and body.

Errors become statuses in ONE place, here: a `DomainError` by its category
(`ERROR_STATUSES`: Forbidden 403, NotFound 404, Conflict 409, Rejected 422, other 422), a
lost race after the retries or a key still in flight 409 `concurrent_modification`; the
domain and the application service never name a status. A retried request with the same
`Idempotency-Key` gets the first response back (`Idempotent-Replayed: true`); the same key
with another request is 422 `idempotency_key_reused`. A declaration's `secret` fields (a
token the caller sees once) are answered to the first request only: the idempotency record,
kept in the events table and its backups, never holds them, so the replay answers without.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any, Protocol

from . import http
from ._frozen import frozen_dataclass
from .errors import Conflict, DomainError, Forbidden, NotFound, Rejected
from .eventstore.ports import ConcurrencyError, EventStore, IdempotencyKeyUsed
from .http import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_PATTERN
from .routes import COMMANDS, Match, Route, serve, validate_params
from .service import CommandContext, CommandResult
from .validation import errors as schema_errors

REPLAYED_HEADER = "Idempotent-Replayed"

COMMAND_ERRORS = (403, 409, 413, 415, 422)
"""Error statuses every command may answer (besides 400, 401, 500), documented on each."""

ERROR_STATUSES: Mapping[type[BaseException], int] = {Forbidden: 403, NotFound: 404, Conflict: 409, Rejected: 422, DomainError: 422}
"""The one mapping from domain error categories to HTTP statuses (most specific class wins)."""

__all__ = [
    "COMMAND_ERRORS",
    "ERROR_STATUSES",
    "IDEMPOTENCY_HEADER",
    "IDEMPOTENCY_KEY",
    "IDEMPOTENCY_KEY_PATTERN",
    "REPLAYED_HEADER",
    "CommandDecl",
    "CommandsApp",
    "Executes",
    "Responder",
    "error_status",
    "request_hash",
]

Schema = Mapping[str, Any]
Build = Callable[[Mapping[str, str], Mapping[str, Any], http.Caller], Any]
"""`build(params, body, caller) -> domain command`: params and body already validated."""


@frozen_dataclass(kw_only=True)
class CommandDecl:
    """Everything about one command in one place: its route, schemas, authorisation hook,
    how to build the domain command and what to answer.

    `build(params, body, caller)` makes the domain command from the validated path
    parameters, JSON body and `http.Caller`. `result(command, outcome)` is the success
    body: `outcome` is what the application service decided (the new domain events, or
    whatever the service's handler for that command returns). `authorize(caller, params,
    body)`, if given, runs before `build` and raises a `DomainError` (e.g. `Forbidden`) to
    refuse; rules that need the streams' state belong in the domain's `decide` instead.
    `check(body)` is for cross-field rules a schema cannot say (raise `http.bad_request`).
    `body_fields` renames a domain error's `field` to its body field (`{"effective_on":
    "effective_date"}`). `secret(command, outcome)`, if given, adds fields that only THIS
    response carries (e.g. a URL made of a secret token): they are never stored in the
    idempotency record, so a replay answers without them (`CommandResult.secret`); document
    them as optional in `response`. `lookup_first`: the command appends in several transactions, so a
    retry must find its stored response before doing anything.
    """

    name: str
    method: str
    path: str
    body: Schema
    response: Schema
    summary: str
    who: str
    build: Build
    result: Callable[[Any, Any], Mapping[str, Any]]
    command: type | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    parameters: Mapping[str, Schema] = field(default_factory=dict)
    authorize: Callable[[http.Caller, Mapping[str, str], Mapping[str, Any]], None] | None = None
    check: Callable[[Mapping[str, Any]], None] | None = None
    body_fields: Mapping[str, str] = field(default_factory=dict)
    lookup_first: bool = False
    secret: Callable[[Any, Any], Mapping[str, Any]] | None = None

    @property
    def route(self) -> Route:
        """Its row of the route table (plain data: what the Pulumi program and OpenAPI read)."""
        return Route(
            method=self.method,
            path=self.path,
            handler=self.name,
            function=COMMANDS,
            who=self.who,
            summary=self.summary,
            status=self.status,
            body=self.body,
            response=self.response,
            errors=tuple(sorted({*COMMAND_ERRORS, *self.errors})) if self.errors else COMMAND_ERRORS,
            parameters=self.parameters,
        )

    def respond(self, command: Any, outcome: Any) -> CommandResult:
        """The success response of `command` given the service's `outcome`."""
        secret = {} if self.secret is None else self.secret(command, outcome)
        return CommandResult(status=self.status, body=self.result(command, outcome), secret=secret)


class Responder:
    """`respond(command, outcome)` for an application service: the declaration of the
    command's type answers (its status and `result`). The service stores that response in
    the idempotency record without knowing what a status is."""

    def __init__(self, declarations: Sequence[CommandDecl]) -> None:
        self._by_type = {d.command: d for d in declarations if d.command is not None}

    def __call__(self, command: Any, outcome: Any) -> CommandResult:
        try:
            declaration = self._by_type[type(command)]
        except KeyError:
            raise TypeError(f"no CommandDecl declares {type(command).__name__} (its `command` field)") from None
        return declaration.respond(command, outcome)


def request_hash(method: str, path: str, body: Any) -> str:
    """sha256 of method, path and the canonical JSON of the body (key order and spacing ignored)."""
    import hashlib  # loads OpenSSL: only requests with an Idempotency-Key pay for it

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


def error_status(error: BaseException, statuses: Mapping[type[BaseException], int] = ERROR_STATUSES) -> int | None:
    """The status of a domain error by the most specific class `statuses` names, or None."""
    for cls in type(error).__mro__:
        if cls in statuses:
            return statuses[cls]
    return None


class Executes(Protocol):
    """What the commands app needs of an application service."""

    def execute(self, command: Any, context: CommandContext) -> CommandResult: ...


EndpointHandler = Callable[[Mapping[str, Any]], dict[str, Any]]


class CommandsApp:
    """The commands function of a service: `app(event) -> response` for every declared
    command, plus `endpoints`, pairs (route, `handler(event)`) such as the public
    `GET /openapi.json` (a non-public endpoint gets the 401 and path checks first).

    `error_statuses` extends or overrides `ERROR_STATUSES` (for a domain whose errors do
    not subclass the categories)."""

    def __init__(
        self,
        declarations: Sequence[CommandDecl],
        service: Executes,
        store: EventStore,
        *,
        endpoints: Sequence[tuple[Route, EndpointHandler]] = (),
        error_statuses: Mapping[type[BaseException], int] | None = None,
    ) -> None:
        names = [d.name for d in declarations]
        if len(set(names)) != len(names):
            raise ValueError(f"two command declarations share a name: {sorted(n for n in names if names.count(n) > 1)}")
        self._declarations = {d.name: d for d in declarations}
        self._endpoints = {route.handler: handler for route, handler in endpoints}
        self._routes = (*(d.route for d in declarations), *(route for route, _ in endpoints))
        self._service = service
        self._store = store
        self._statuses = {**ERROR_STATUSES, **(error_statuses or {})}

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return serve(event, self._routes, self._dispatch)

    def _dispatch(self, event: Mapping[str, Any], found: Match, correlation: str, extra: dict[str, Any]) -> dict[str, Any]:
        route = found.route
        endpoint = self._endpoints.get(route.handler)
        if endpoint is not None:
            if not route.public:
                http.caller(event)  # 401 first
                validate_params(route, found.params)
            return endpoint(event)
        caller = http.caller(event)
        params = validate_params(route, found.params)
        body = http.json_body(event)
        return self.execute(
            route.handler,
            caller,
            params,
            body,
            idempotency_key=http.header(event, IDEMPOTENCY_HEADER),
            correlation_id=correlation,
            log_fields=extra,
        )

    def execute(
        self,
        name: str,
        caller: http.Caller,
        params: Mapping[str, str],
        body: Any,
        *,
        idempotency_key: str | None,
        correlation_id: str,
        log_fields: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run the declared command `name` for `caller` exactly as its route does once the
        request is parsed: the body schema and `check` (400), the `Idempotency-Key`
        (`idempotency_key`, scoped by `caller.subject`: a retry with the same key and request
        gets the first response back), `authorize`, `build`, the service, the one error ->
        status mapping. The response, or an `HttpError` to answer.

        For other edges onto the same commands (e.g. a chat tool's buttons, whose caller is
        not a JWT): same validation, same authorisation, same idempotency. `params` must be
        valid for the route (`routes.validate_params`)."""
        declaration = self._declarations[name]
        route = declaration.route
        extra = {} if log_fields is None else log_fields
        problems = schema_errors(body, declaration.body, "body")
        if problems:
            first = problems[0]
            raise http.bad_request(first.message, field=first.field, details=[p.as_dict() for p in problems])
        if declaration.check is not None:
            declaration.check(body)
        key = self._checked_key(idempotency_key)
        scoped = f"{caller.subject}#{key}" if key else None
        digest = request_hash(route.method, route.concrete_path(params), body) if scoped else None
        if scoped and digest and declaration.lookup_first:
            replay = self._replay(scoped, digest)
            if replay is not None:
                extra["idempotent_replay"] = True
                return replay
        context = CommandContext(caller=caller.id, correlation_id=correlation_id, idempotency_key=scoped, request_hash=digest)
        try:
            if declaration.authorize is not None:
                declaration.authorize(caller, params, body)
            result = self._service.execute(declaration.build(params, body, caller), context)
        except (IdempotencyKeyUsed, ConcurrencyError, DomainError) as exc:
            replay = self._replay(scoped, digest) if scoped and digest else None
            if replay is not None:
                extra["idempotent_replay"] = True
                return replay
            raise self.http_error(exc, declaration) from exc
        except Exception as exc:
            if error_status(exc, self._statuses) is None:
                raise
            raise self.http_error(exc, declaration) from exc
        return http.json_response(result.status, result.answer)

    @staticmethod
    def _checked_key(key: str | None) -> str | None:
        if key is None:
            return None
        if schema_errors(key, IDEMPOTENCY_KEY, "header"):
            raise http.bad_request(
                f"the {IDEMPOTENCY_HEADER} header must be 1-128 characters: letters, digits, _ . : -",
                code="invalid_idempotency_key",
                field=f"header.{IDEMPOTENCY_HEADER}",
            )
        return key

    def _replay(self, scoped: str, digest: str) -> dict[str, Any] | None:
        """The first response of this key if it was for the same request; 422 if for another."""
        record = self._store.get_idempotency(scoped)
        if record is None:
            return None
        if record.request_hash != digest:
            raise http.HttpError(422, "idempotency_key_reused", f"this {IDEMPOTENCY_HEADER} was already used for a different request")
        return http.json_response(int(record.response["status"]), record.response.get("body"), headers={REPLAYED_HEADER: "true"})

    def http_error(self, exc: Exception, declaration: CommandDecl) -> http.HttpError:
        """The `HttpError` a refusal of `declaration` becomes (the one error -> status mapping)."""
        if isinstance(exc, IdempotencyKeyUsed):
            return http.HttpError(409, "concurrent_modification", f"a request with this {IDEMPOTENCY_HEADER} is still in progress; retry")
        if isinstance(exc, ConcurrencyError):
            return http.HttpError(409, "concurrent_modification", "the data changed while processing; retry")
        status = error_status(exc, self._statuses) or 422
        code = getattr(exc, "code", None) or "rule_violated"
        message = getattr(exc, "message", None) or str(exc)
        name = getattr(exc, "field", None)
        field_name = None if name is None else "body." + declaration.body_fields.get(name, name)
        return http.HttpError(status, code, message, field=field_name)

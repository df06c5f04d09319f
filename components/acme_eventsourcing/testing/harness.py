"""Run a Pulumi program under the SDK's mock engine and record everything it declares.

`record(fn)` runs a function that declares resources; `run_program(path, stack_name)`
runs a real `__main__.py` with the config of its `Pulumi.<stack>.yaml`. Both return a
`RecordedStack`: every resource (custom and component) with its resolved inputs, the
resource options the engine received (protect, retain_on_delete, ...: these are not in
`MockResourceArgs`, so they are read from the monitor's `RegisterResource` request), the
mocked outputs, and the stack's exports.

Runs use `preview=False`, so every `Output` resolves and `apply` callbacks run.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import runpy
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _sync_await

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

StackOutputs = Mapping[str, Mapping[str, Any]]
#: Makes up the value of an output a program reads from a stack it references, when the
#: test gave none: `(referenced stack, output name) -> value`.
MissingStackOutput = Callable[[str, str], Any]


@dataclass
class RecordedResource:
    """One resource as the engine saw it."""

    type: str
    name: str
    urn: str
    parent_urn: str | None
    custom: bool
    inputs: dict[str, Any]
    options: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    #: Paths of the inputs that were secret (e.g. `("environment", "variables")`); the
    #: values in `inputs` are already unwrapped.
    secret_paths: tuple[tuple[str | int, ...], ...] = ()

    def is_secret(self, *path: str | int) -> bool:
        """Whether the input at `path` (or a value containing it) was marked secret."""
        return any(path[: len(p)] == p for p in self.secret_paths)

    @property
    def arn(self) -> str | None:
        return self.state.get("arn")


@dataclass
class RecordedStack:
    """Everything one run of a program declared."""

    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    config: dict[str, str]
    #: Stack-reference outputs made up by `missing_stack_output`: (stack, output, value).
    faked_outputs: tuple[tuple[str, str, Any], ...] = ()

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> RecordedResource:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.of_type(type_))
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)}; names of that type: {names}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource | None:
        return next((r for r in self.resources if r.urn == urn), None)

    def children(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent_urn == parent.urn]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.resources:
            out[r.type] = out.get(r.type, 0) + 1
        return dict(sorted(out.items()))


def _physical_name(name: str) -> str:
    return f"{name}-{hashlib.sha1(name.encode()).hexdigest()[:7]}"


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that answer like AWS would: names, ARNs and the outputs our code reads."""

    def __init__(self, stack_references: StackOutputs | None = None, *, allow_unknown_references: bool = False) -> None:
        self.stack_references = {k: dict(v) for k, v in (stack_references or {}).items()}
        self.allow_unknown_references = allow_unknown_references
        self.unknown_references: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):  # noqa: C901 - a table of types
        typ, inputs = args.typ, dict(args.inputs)
        if typ == "pulumi:pulumi:StackReference":
            ref = inputs.get("name") or args.resource_id or args.name
            if ref not in self.stack_references:
                # raising here would leave failed futures behind; `record` raises once the run is over
                if not self.allow_unknown_references:
                    self.unknown_references.append(ref)
                self.stack_references[ref] = {}
            return ref, {"name": ref, "outputs": dict(self.stack_references[ref]), "secretOutputNames": []}

        phys = inputs.get("name") or _physical_name(args.name)
        rid = args.resource_id or phys
        state: dict[str, Any] = {**inputs}
        region, acct = REGION, ACCOUNT_ID
        service = typ.split(":")[1].split("/")[0] if ":" in typ else "unknown"

        if typ == "aws:dynamodb/table:Table":
            state.update(name=phys, arn=f"arn:aws:dynamodb:{region}:{acct}:table/{phys}")
            if inputs.get("streamEnabled"):
                state["streamArn"] = f"{state['arn']}/stream/2026-01-01T00:00:00.000"
                state["streamLabel"] = "2026-01-01T00:00:00.000"
        elif typ == "aws:sqs/queue:Queue":
            state.update(name=phys, arn=f"arn:aws:sqs:{region}:{acct}:{phys}", url=f"https://sqs.{region}.amazonaws.com/{acct}/{phys}")
            rid = state["url"]
        elif typ == "aws:lambda/function:Function":
            arn = f"arn:aws:lambda:{region}:{acct}:function:{phys}"
            state.update(
                name=phys,
                arn=arn,
                qualifiedArn=f"{arn}:$LATEST",
                invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
                version="$LATEST",
            )
        elif typ == "aws:iam/role:Role":
            state.update(
                name=phys, arn=f"arn:aws:iam::{acct}:role/{phys}", uniqueId=f"AROA{hashlib.sha1(phys.encode()).hexdigest()[:16].upper()}"
            )
        elif typ == "aws:iam/policy:Policy":
            state.update(name=phys, arn=f"arn:aws:iam::{acct}:policy/{phys}")
        elif typ == "aws:cloudwatch/eventBus:EventBus":
            state.update(name=phys, arn=f"arn:aws:events:{region}:{acct}:event-bus/{phys}")
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            bus = inputs.get("eventBusName") or "default"
            bus_part = "" if bus == "default" else f"{bus.split('/')[-1]}/"
            state.update(name=phys, arn=f"arn:aws:events:{region}:{acct}:rule/{bus_part}{phys}")
        elif typ == "aws:cloudwatch/eventArchive:EventArchive":
            state.update(name=phys, arn=f"arn:aws:events:{region}:{acct}:archive/{phys}")
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state.update(name=phys, arn=f"arn:aws:logs:{region}:{acct}:log-group:{phys}")
        elif typ == "aws:apigatewayv2/api:Api":
            rid = hashlib.sha1(args.name.encode()).hexdigest()[:10]
            scheme = "wss" if inputs.get("protocolType") == "WEBSOCKET" else "https"
            state.update(
                apiEndpoint=f"{scheme}://{rid}.execute-api.{region}.amazonaws.com",
                executionArn=f"arn:aws:execute-api:{region}:{acct}:{rid}",
                arn=f"arn:aws:apigateway:{region}::/apis/{rid}",
            )
        elif typ == "aws:apigatewayv2/stage:Stage":
            api_id = inputs.get("apiId", "api")
            stage = inputs.get("name", "$default")
            path = "" if stage == "$default" else f"/{stage}"
            state.update(
                invokeUrl=f"https://{api_id}.execute-api.{region}.amazonaws.com{path}",
                executionArn=f"arn:aws:execute-api:{region}:{acct}:{api_id}/{stage}",
                arn=f"arn:aws:apigateway:{region}::/apis/{api_id}/stages/{stage}",
            )
        elif typ == "aws:cognito/userPool:UserPool":
            rid = f"{region}_{hashlib.sha1(args.name.encode()).hexdigest()[:9]}"
            state.update(
                arn=f"arn:aws:cognito-idp:{region}:{acct}:userpool/{rid}",
                endpoint=f"cognito-idp.{region}.amazonaws.com/{rid}",
            )
        elif typ == "aws:kms/key:Key":
            rid = hashlib.sha1(args.name.encode()).hexdigest()[:32]
            state.update(arn=f"arn:aws:kms:{region}:{acct}:key/{rid}", keyId=rid)
        elif typ == "aws:sns/topic:Topic":
            state.update(name=phys, arn=f"arn:aws:sns:{region}:{acct}:{phys}")
        elif typ == "aws:pipes/pipe:Pipe":
            state.update(name=phys, arn=f"arn:aws:pipes:{region}:{acct}:pipe/{phys}")
        elif typ == "aws:sfn/stateMachine:StateMachine":
            state.update(name=phys, arn=f"arn:aws:states:{region}:{acct}:stateMachine:{phys}")
        elif typ == "aws:scheduler/scheduleGroup:ScheduleGroup":
            state.update(name=phys, arn=f"arn:aws:scheduler:{region}:{acct}:schedule-group/{phys}")
        elif typ == "aws:scheduler/schedule:Schedule":
            group = inputs.get("groupName") or "default"
            state.update(name=phys, groupName=group, arn=f"arn:aws:scheduler:{region}:{acct}:schedule/{group}/{phys}")
        elif typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            bucket = (inputs.get("bucket") or phys).lower()  # S3 bucket names are lower case
            rid = bucket
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketDomainName=f"{bucket}.s3.amazonaws.com", region=region)
        elif typ == "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
            state.update(name=phys, arn=f"arn:aws:firehose:{region}:{acct}:deliverystream/{phys}")
            rid = state["arn"]
        elif typ == "aws:cloudwatch/eventApiDestination:EventApiDestination":
            uid = hashlib.sha1(args.name.encode()).hexdigest()[:8]
            state.update(name=phys, arn=f"arn:aws:events:{region}:{acct}:api-destination/{phys}/{uid}")
        elif typ == "aws:cloudwatch/eventConnection:EventConnection":
            uid = hashlib.sha1(args.name.encode()).hexdigest()[:8]
            state.update(
                name=phys,
                arn=f"arn:aws:events:{region}:{acct}:connection/{phys}/{uid}",
                secretArn=f"arn:aws:secretsmanager:{region}:{acct}:secret:events!connection/{phys}/{uid}",
            )
        elif typ == "aws:secretsmanager/secret:Secret":
            phys = inputs.get("name") or (
                inputs["namePrefix"] + hashlib.sha1(args.name.encode()).hexdigest()[:6] if inputs.get("namePrefix") else phys
            )
            state.update(name=phys, arn=f"arn:aws:secretsmanager:{region}:{acct}:secret:{phys}")
            rid = state["arn"]
        elif typ == "aws:backup/vault:Vault":
            state.update(name=phys, arn=f"arn:aws:backup:{region}:{acct}:backup-vault:{phys}")
        elif typ == "aws:backup/plan:Plan":
            state.update(name=phys, arn=f"arn:aws:backup:{region}:{acct}:backup-plan:{rid}")
        elif typ == "aws:schemas/registry:Registry":
            state.update(name=phys, arn=f"arn:aws:schemas:{region}:{acct}:registry/{phys}")
        else:
            kind = typ.split(":")[-1]
            state.setdefault("arn", f"arn:aws:{service}:{region}:{acct}:{kind.lower()}/{phys}")
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs):
        tok = args.token
        if tok == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/test", "userId": "AIDTEST", "id": ACCOUNT_ID}
        if tok == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION, "id": REGION, "description": "US East (N. Virginia)"}
        if tok == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        return {}


def _opt(request: Any, field_name: str) -> Any:
    """A proto3 `optional` field: None when unset."""
    try:
        return getattr(request, field_name) if request.HasField(field_name) else None
    except ValueError:  # not an optional field in this SDK version
        return getattr(request, field_name)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, plus a record of each RegisterResource request."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine gives: the parent's whole qualified type chain (`a$b$type`), not
        only its last type as the SDK's mock monitor does, so a moved resource's URN changes here too."""
        if parent and "::" in parent:
            qualified = parent.split("::")[2]
            if qualified != "pulumi:pulumi:Stack":
                type_ = f"{qualified}${type_}"
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{type_}::{name}"

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        urn = self.make_urn(request.parent, request.type, request.name)
        registration = self.resources.get(urn)
        from pulumi.runtime import rpc

        pulumi_mocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        secret_paths: list[tuple[str | int, ...]] = []
        plain_inputs = _plain(inputs, (), secret_paths)
        self.recorded.append(
            RecordedResource(
                type=request.type,
                name=request.name,
                urn=urn,
                parent_urn=request.parent or None,
                custom=bool(request.custom),
                inputs=plain_inputs,
                secret_paths=tuple(secret_paths),
                options={
                    "protect": bool(_opt(request, "protect")),
                    "retain_on_delete": bool(_opt(request, "retainOnDelete")),
                    "delete_before_replace": bool(request.deleteBeforeReplace),
                    "ignore_changes": list(request.ignoreChanges),
                    "replace_on_changes": list(request.replaceOnChanges),
                    "depends_on": list(request.dependencies),
                    "provider": request.provider or None,
                    "additional_secret_outputs": list(request.additionalSecretOutputs),
                    "import_id": request.importId or None,
                    "aliases": [self._alias_urn(a, request) for a in request.aliases],
                },
                state=_plain(dict(registration.state)) if registration else {},
                id=registration.id if registration else None,
            )
        )
        return response

    def _alias_urn(self, alias: Any, request: Any) -> str:
        """An alias of the request as the URN it names (a spec's unset parts are the resource's own).
        Aliases the engine derives for children from their parent's aliases are not listed."""
        if alias.urn:
            return alias.urn
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        urn = self.make_urn(parent, spec.type or request.type, spec.name or request.name)
        if spec.stack or spec.project:
            head, project, rest = urn.split("::", 2)
            urn = f"urn:pulumi:{spec.stack or head.removeprefix('urn:pulumi:')}::{spec.project or project}::{rest}"
        return urn

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        response = super().ReadResource(request)
        urn = response.urn
        registration = self.resources.get(urn)
        self.recorded.append(
            RecordedResource(
                type=request.type,
                name=request.name,
                urn=urn,
                parent_urn=request.parent or None,
                custom=True,
                inputs={},
                options={"read": True, "protect": False, "retain_on_delete": False},
                state=_plain(dict(registration.state)) if registration else {},
                id=request.id,
            )
        )
        return response


_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # how the engine marks a secret value on the wire


def _plain(value: Any, path: tuple[str | int, ...] = (), secrets: list[tuple[str | int, ...]] | None = None) -> Any:
    """Deserialized properties as plain Python: secrets unwrapped (their paths appended to
    `secrets`), assets and archives described by their paths."""
    if isinstance(value, dict):
        if _SECRET_SIG in value and "value" in value:
            if secrets is not None:
                secrets.append(path)
            return _plain(value["value"], path, None)
        return {k: _plain(v, (*path, k), secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, (*path, i), secrets) for i, v in enumerate(value)]
    if isinstance(value, pulumi.FileAsset):
        return {"__asset__": "file", "path": str(value.path)}
    if isinstance(value, pulumi.StringAsset):
        return {"__asset__": "string", "text": value.text}
    if isinstance(value, pulumi.FileArchive):
        return {"__archive__": "file", "path": str(value.path)}
    if isinstance(value, pulumi.AssetArchive):
        return {"__archive__": "assets", "assets": {k: _plain(v) for k, v in value.assets.items()}}
    return value


def _resolve(value: Any) -> Any:
    """Resolve exports (Outputs, possibly nested in dicts and lists) to plain values."""
    return _sync_await(pulumi.Output.from_input(value).future())


@contextlib.contextmanager
def _faking_missing_outputs(make: MissingStackOutput | None, faked: list[tuple[str, str, Any]]) -> Iterator[None]:
    """While a program runs: `StackReference.get_output`/`require_output` of an output the
    test did not give returns `make(stack, name)` (and records it in `faked`)."""
    if make is None:
        yield
        return
    get_output, require_output = pulumi.StackReference.get_output, pulumi.StackReference.require_output

    def lookup(self: pulumi.StackReference, name: pulumi.Input[str]) -> pulumi.Output[Any]:
        def pick(args: list[Any]) -> Any:
            key, outputs, ref = args
            if key in (outputs or {}):
                return outputs[key]
            value = make(ref, key)
            faked.append((ref, key, value))
            return value

        return pulumi.Output.all(pulumi.Output.from_input(name), self.outputs, self.name).apply(pick)

    pulumi.StackReference.get_output = lookup  # type: ignore[method-assign]
    pulumi.StackReference.require_output = lookup  # type: ignore[method-assign]
    try:
        yield
    finally:
        pulumi.StackReference.get_output = get_output  # type: ignore[method-assign]
        pulumi.StackReference.require_output = require_output  # type: ignore[method-assign]


def _no_stack_trace() -> source_pb2.StackTrace:
    """The empty stack trace the SDK itself sends when it finds no user frame."""
    return source_pb2.StackTrace()


@contextlib.contextmanager
def _lean_engine() -> Iterator[None]:
    """While a program runs under the mocks, skip work whose result nobody reads:

    - the SDK captures the Python stack (`traceback.extract_stack`, every frame's source
      line and file URI) at every resource registration, to send the monitor a source
      position; the mock monitor discards it, so each registration sends an empty trace;
    - the garbage collector's full collections walk every object alive, most of them
      modules and classes imported before the run (pulumi, pulumi_aws, the test's own):
      those are frozen (`gc.freeze`) for the run, so collections walk only what the run
      allocates, and unfrozen afterwards (nothing is leaked). Skipped when the caller has
      frozen objects itself, so its own freeze is left as it was.

    Neither changes what the program declares or what is recorded. `_get_stack_trace` is the
    SDK's private function: an SDK without it runs as it is (only slower), never fails."""
    stack_trace = getattr(pulumi_resource, "_get_stack_trace", None)
    freeze = gc.isenabled() and gc.get_freeze_count() == 0
    if stack_trace is not None:
        pulumi_resource._get_stack_trace = _no_stack_trace
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()
        if stack_trace is not None:
            pulumi_resource._get_stack_trace = stack_trace


@contextlib.contextmanager
def _cwd(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def record(
    fn: Callable[[], Any],
    *,
    project: str = "test",
    stack: str = "test",
    config: Mapping[str, Any] | None = None,
    stack_references: StackOutputs | None = None,
    missing_stack_output: MissingStackOutput | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> RecordedStack:
    """Run `fn` under recording mocks (preview=False) and return what it declared.

    `config` keys are fully qualified (`"aws:region"`, `"leave:publisher"`); non-string
    values are stored as JSON, as the Pulumi CLI does for structured config.
    `stack_references` gives the outputs of stacks the program references; a reference
    to another stack is an error unless `missing_stack_output` makes up the outputs the
    program reads (listed in `RecordedStack.faked_outputs`), e.g. for an offline preview.
    """
    conf = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}
    mocks = RecordingMocks(stack_references, allow_unknown_references=missing_stack_output is not None)
    faked: list[tuple[str, str, Any]] = []
    monitor = RecordingMonitor(mocks)
    pulumi_settings.set_root_resource(None)  # type: ignore[arg-type] - a fresh Stack per run
    set_all_config(conf)
    pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    root = pulumi_settings.get_root_resource()
    exports: dict[str, Any] = {}

    def program() -> Any:
        with _cwd(Path(cwd) if cwd else None):
            fn()
        return pulumi.Output.from_input(dict(getattr(root, "outputs", {}) or {}))

    def capture(value: Any) -> None:
        exports.update(value or {})

    @pulumi_mocks.test
    def run() -> Any:
        return program().apply(capture)

    try:
        with _faking_missing_outputs(missing_stack_output, faked), _lean_engine():
            run()
    except Exception as exc:
        _raise_if_unknown_references(mocks, exc)
        raise
    finally:
        set_all_config({})
    _raise_if_unknown_references(mocks, None)
    return RecordedStack(
        project=project,
        stack=stack,
        resources=list(monitor.recorded),
        outputs=exports,
        config=conf,
        faked_outputs=tuple(dict.fromkeys(faked)),
    )


def _raise_if_unknown_references(mocks: RecordingMocks, cause: BaseException | None) -> None:
    if mocks.unknown_references:
        refs = sorted(set(mocks.unknown_references))
        raise KeyError(
            f"no outputs given for StackReference {', '.join(map(repr, refs))}; pass "
            f"stack_references={{{refs[0]!r}: {{...}}}} or missing_stack_output=(stack, name) -> value"
        ) from cause


def load_stack_config(project_dir: str | os.PathLike[str], stack_name: str) -> tuple[str, dict[str, Any]]:
    """The project name and the config of `Pulumi.<stack>.yaml` (keys fully qualified).

    Reads the small YAML subset stack files use (nested maps, scalars, lists) with the
    standard library's `json` for values where possible; falls back to PyYAML if present.
    """
    root = Path(project_dir)
    project = _read_yaml(root / "Pulumi.yaml").get("name", "project")
    path = root / f"Pulumi.{stack_name}.yaml"
    if not path.exists():
        available = sorted(p.name for p in root.glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack file {path.name} in {root}; stack files: {available}")
    conf = _read_yaml(path).get("config", {}) or {}
    qualified = {(k if ":" in k else f"{project}:{k}"): v for k, v in conf.items()}
    return project, qualified


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        import yaml  # PyYAML: a dependency of moto[server], always present in our environments
    except ImportError as exc:  # pragma: no cover - environment problem, said clearly
        raise RuntimeError("reading Pulumi stack files needs PyYAML (pip install pyyaml)") from exc
    with path.open() as fh:
        return yaml.safe_load(fh) or {}


def run_program(
    main: str | os.PathLike[str],
    stack_name: str = "dev",
    *,
    config_overrides: Mapping[str, Any] | None = None,
    stack_references: StackOutputs | None = None,
    missing_stack_output: MissingStackOutput | None = None,
) -> RecordedStack:
    """Run a real Pulumi program file (e.g. `__main__.py`) under recording mocks with the
    config of the `Pulumi.<stack_name>.yaml` beside it, the way `pulumi up` would run it
    (working directory = the project directory, project directory on sys.path).
    `config_overrides` replace keys of the stack file; a None value unsets the key (as
    `pulumi config rm` would)."""
    main_path = Path(main).resolve()
    project_dir = main_path.parent
    project, conf = load_stack_config(project_dir, stack_name)
    for key, value in (config_overrides or {}).items():
        if value is None:
            conf.pop(key, None)
        else:
            conf[key] = value
    added = str(project_dir) not in sys.path
    if added:
        sys.path.insert(0, str(project_dir))
    try:
        return record(
            lambda: runpy.run_path(str(main_path), run_name="__main__"),
            project=project,
            stack=stack_name,
            config=conf,
            stack_references=stack_references,
            missing_stack_output=missing_stack_output,
            cwd=project_dir,
        )
    finally:
        if added:
            sys.path.remove(str(project_dir))

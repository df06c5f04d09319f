"""Building blocks for one Lambda function: code archive, role, log group, function, alarm."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _iam, _kms

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
#: Values CloudWatch Logs accepts for retention_in_days.
LOG_RETENTION_DAYS = frozenset({1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653})
_IMPORTS_PULUMI = re.compile(r"^\s*(?:import|from)\s+pulumi(?:_\w+)?\b", re.MULTILINE)
_SKIPPED_DIRS = {"__pycache__", "tests", "test"}


#: This package's folder (`acme_eventsourcing/`): function code that imports the runtime
#: library gets the modules it uses from here, shipped at `acme_eventsourcing/...` in its zip.
LIBRARY = Path(__file__).resolve().parent
LIBRARY_NAME = LIBRARY.name
#: The only part of this package Lambda code may import (the rest is Pulumi code).
LIBRARY_RUNTIME = f"{LIBRARY_NAME}.runtime"
_IMPORTS_LIBRARY = re.compile(rf"^\s*(?:import|from)\s+{LIBRARY_NAME}\b", re.MULTILINE)


def package_code(code_root: str | Path, packages: Sequence[str], entry_module: str | None = None) -> pulumi.AssetArchive:
    """A zip of `packages` under `code_root` (one FileAsset per file), plus the modules of
    the runtime library (`acme_eventsourcing.runtime`) the code imports.

    Skips `__pycache__`, `tests` folders, compiled and hidden files. With `entry_module`
    (the handler's module, e.g. `leave_api.queries`), Python files of those packages that
    the handler never imports, directly or through others, stay out too: the import
    graph is read statically from the source (imports inside functions count; a module
    loaded only by `importlib` with a computed name does not, so such code sets
    `FunctionSpec.trim_to_imports=False`). The library's modules are trimmed the same way;
    without `entry_module`, code that imports the library gets all of
    `acme_eventsourcing.runtime`. Raises ValueError if a package is missing or its code
    imports pulumi (Lambda code never does).
    """
    root = Path(code_root).resolve()
    used = _imported_files(root, entry_module) if entry_module else None
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {}
    uses_library = False
    for package in packages:
        base = root / package
        module = root / f"{package}.py"
        if base.is_dir():
            files = sorted(p for p in base.rglob("*") if p.is_file() and _shipped(p.relative_to(root)))
        elif module.is_file():
            files = [module]
        else:
            raise ValueError(f"package {package!r} not found under {root}")
        for path in files:
            if used is not None and path.suffix == ".py" and path.resolve() not in used:
                continue
            if path.suffix == ".py":
                text = path.read_text(encoding="utf-8")
                if _IMPORTS_PULUMI.search(text):
                    raise ValueError(f"{path} imports pulumi; Lambda code must not")
                uses_library = uses_library or bool(_IMPORTS_LIBRARY.search(text))
            assets[path.relative_to(root).as_posix()] = pulumi.FileAsset(str(path))
    if used is not None:
        library = sorted(p for p in used if p.is_relative_to(LIBRARY))
    elif uses_library:
        library = [LIBRARY / "__init__.py", *sorted(p for p in (LIBRARY / "runtime").rglob("*.py") if _shipped(p.relative_to(LIBRARY)))]
    else:
        library = []
    for path in library:
        assets[f"{LIBRARY_NAME}/{path.relative_to(LIBRARY).as_posix()}"] = pulumi.FileAsset(str(path))
    return pulumi.AssetArchive(assets)


def library_code(entry_module: str) -> pulumi.AssetArchive:
    """A zip of the runtime library's own `entry_module` (e.g. `acme_eventsourcing.runtime.publisher`)
    and the library modules it imports: for the functions a component deploys itself."""
    if not entry_module.startswith(LIBRARY_RUNTIME + "."):
        raise ValueError(f"{entry_module!r} is not a module of {LIBRARY_RUNTIME}")
    return package_code(LIBRARY.parent, [], entry_module)


def _imported_files(root: Path, entry_module: str) -> set[Path]:
    """Source files under `root` (and of the runtime library) that importing `entry_module` can load.

    The import graph is read from the source with `ast` (every `import`, at any depth: inside
    functions too; not those under `if TYPE_CHECKING:`, which never run), each file parsed once
    per process. A lazy package (its `__init__` maps public names to the modules that define
    them in a `_HOMES` dict, and imports each on first use) gives `from package import Name`
    the module `Name` lives in, and a plain `import package` all of them. Only modules under
    `root` and this library's runtime are followed: anything else (boto3, the standard
    library, the library's Pulumi modules) is the runtime's."""
    entry = root / (entry_module.replace(".", "/") + ".py")
    if not entry.is_file():
        raise ValueError(f"handler module {entry_module!r} not found under {root} (looked for {entry})")
    own = root == LIBRARY.parent  # the library's own functions (it may sit in site-packages)
    local = set() if own else {p.stem if p.suffix == ".py" else p.name for p in root.iterdir()} - {LIBRARY_NAME}

    located: dict[str, Path | None] = {}

    def locate(name: str) -> Path | None:
        if name not in located:
            located[name] = _locate(name)
        return located[name]

    def _locate(name: str) -> Path | None:
        top = name.partition(".")[0]
        if top == LIBRARY_NAME:
            if name not in (LIBRARY_NAME, LIBRARY_RUNTIME) and not name.startswith(LIBRARY_RUNTIME + "."):
                return None
            base = LIBRARY.parent
        elif top in local:
            base = root
        else:
            return None
        # base is resolved already: no symlinks to follow again; plain strings and os.path here,
        # as this runs for every name every function imports (pathlib's parsing was most of it)
        path = f"{base}{os.sep}{name.replace('.', os.sep)}"
        for candidate in (f"{path}{os.sep}__init__.py", f"{path}.py"):
            if os.path.isfile(candidate):
                return Path(candidate)
        return None

    found: set[Path] = set()
    pending = [(entry_module, entry.resolve())]

    def want(name: str) -> None:
        if (target := locate(name)) is not None and target not in found:
            pending.append((name, target))

    while pending:
        name, path = pending.pop()
        if path in found:
            continue
        found.add(path)
        parts = name.split(".")
        for i in range(1, len(parts)):  # a module's packages run their __init__ first
            want(".".join(parts[:i]))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for module, names in _scan(path, package).imports:
            for i in range(1, module.count(".") + 2):
                want(".".join(module.split(".")[:i]))
            init = locate(module)
            homes = _scan(init, module).homes if init is not None and init.name == "__init__.py" else {}
            for imported in names if names is not None else homes:
                want(f"{module}.{imported}")  # a submodule
                if imported in homes:
                    want(homes[imported])
    # the handler's package __init__ files run first, whatever the entry imports
    for parent in entry.relative_to(root).parents:
        if parent != Path(".") and (init := root / parent / "__init__.py").is_file():
            found.add(init.resolve())
    return found


@dataclass(frozen=True)
class _Scan:
    """What one source file imports: (module, the names of `from module import ...` or None for
    `import module`); and, for a lazy package's `__init__`, its `_HOMES` (name -> module)."""

    imports: tuple[tuple[str, tuple[str, ...] | None], ...]
    homes: Mapping[str, str]


_SCANS: dict[tuple[Path, int, int, str], _Scan] = {}


def _scan(path: Path, package: str) -> _Scan:
    """The imports of `path` (absolute names, relative ones resolved against `package`), parsed
    once per file version (path, mtime, size)."""
    st = path.stat()
    key = (path, st.st_mtime_ns, st.st_size, package)
    cached = _SCANS.get(key)
    if cached is not None:
        return cached

    def absolute(module: str | None, level: int) -> str:
        if not level:
            return module or ""
        base = package.split(".")
        base = base[: len(base) - (level - 1)] if level > 1 else base
        return ".".join([*base, module] if module else base)

    imports: list[tuple[str, tuple[str, ...] | None]] = []
    homes: dict[str, str] = {}

    def visit(body: list[ast.stmt], top: bool) -> None:
        # imports are statements: only statement lists are walked (bodies of functions,
        # classes, if/for/while/try/with/match), never the expressions, most of the tree
        for child in body:
            if isinstance(child, ast.Import):
                imports.extend((alias.name, None) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                imports.append((absolute(child.module, child.level), tuple(a.name for a in child.names if a.name != "*")))
            elif isinstance(child, ast.Assign | ast.AnnAssign):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                if top and isinstance(child.value, ast.Dict) and any(isinstance(t, ast.Name) and t.id == "_HOMES" for t in targets):
                    for k, v in zip(child.value.keys, child.value.values, strict=True):
                        if isinstance(k, ast.Constant) and isinstance(v, ast.Constant) and isinstance(v.value, str):
                            level = len(v.value) - len(v.value.lstrip("."))
                            homes[str(k.value)] = absolute(v.value.lstrip(".") or None, level) if level else v.value
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                visit(child.orelse, False)  # the `if TYPE_CHECKING:` branch never runs
            else:
                for name in _STATEMENT_LISTS:
                    inner = getattr(child, name, None)
                    if inner and isinstance(inner[0], ast.stmt):
                        visit(inner, False)
                for part in getattr(child, "handlers", ()) or getattr(child, "cases", ()):
                    visit(part.body, False)

    visit(ast.parse(path.read_bytes(), str(path)).body, True)
    scan = _Scan(imports=tuple(imports), homes=homes)
    _SCANS[key] = scan
    return scan


#: The fields of a statement that hold statements (`handlers` and `cases` hold them one level down).
_STATEMENT_LISTS = ("body", "orelse", "finalbody")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _shipped(relative: Path) -> bool:
    parts = relative.parts
    return not any(p in _SKIPPED_DIRS or p.startswith(".") for p in parts) and relative.suffix not in {".pyc", ".pyo"}


@dataclass(frozen=True)
class FunctionParts:
    """The resources behind one function."""

    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    policy: aws.iam.RolePolicy
    function: aws.lambda_.Function
    errors_alarm: aws.cloudwatch.MetricAlarm


def log_stream_arns(log_group: aws.cloudwatch.LogGroup) -> pulumi.Output[str]:
    """`<log group ARN>:*`, the resource form that covers the group's log streams."""
    return log_group.arn.apply(lambda arn: f"{arn}:*")


def build_function(
    name: str,
    *,
    opts: pulumi.ResourceOptions,
    handler: str,
    code: pulumi.Archive,
    memory_mb: int,
    timeout_s: int,
    environment: Mapping[str, pulumi.Input[str]],
    statements: Sequence[Mapping[str, Any]],
    log_retention_days: int,
    alarm_actions: Sequence[pulumi.Input[str]],
    reserved_concurrency: int | None = None,
    tags: Mapping[str, str] | None = None,
    kms_key_arn: pulumi.Input[str] | None = None,
    kms_writes: bool = False,
    runtime: str = RUNTIME,
    architecture: str = ARCHITECTURE,
) -> FunctionParts:
    """A function with its own role (least privilege: its `statements` plus its own log
    group and X-Ray), an explicit log group with retention, tracing, and an Errors alarm.
    With `kms_key_arn` the log group and the environment are encrypted with that key and
    the role may decrypt with it (and generate data keys if `kms_writes`: it writes to
    encrypted tables or queues).

    Children are named `name`, `{name}-role`, `{name}-policy`, `{name}-logs`, `{name}-errors`;
    `opts` (the parent, aliases) go to each, and `tags` to each that takes tags.
    """
    child = opts
    tags = dict(tags or {}) or None
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name_prefix=f"/aws/lambda/{name}-",
        retention_in_days=log_retention_days,
        kms_key_id=kms_key_arn,
        tags=tags,
        opts=child,
    )
    role = aws.iam.Role(f"{name}-role", assume_role_policy=_iam.assume_role_policy("lambda.amazonaws.com"), tags=tags, opts=child)
    policy = aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=_iam.document(
            [
                _iam.statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [log_stream_arns(log_group)]),
                _iam.unscoped_statement("XRayTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]),
                *statements,
                *([_kms.use_statement(kms_key_arn, writes=kms_writes)] if kms_key_arn is not None else []),
            ]
        ),
        opts=child,
    )
    function = aws.lambda_.Function(
        name,
        role=role.arn,
        runtime=runtime,
        architectures=[architecture],
        handler=handler,
        code=code,
        memory_size=memory_mb,
        timeout=timeout_s,
        reserved_concurrent_executions=reserved_concurrency,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(environment)),
        kms_key_arn=kms_key_arn,
        tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
        tags=tags,
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[policy])),
    )
    errors_alarm = metric_alarm(
        f"{name}-errors",
        opts=opts,
        description=f"{name} raised errors",
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions={"FunctionName": function.name},
        statistic="Sum",
        threshold=0,
        alarm_actions=alarm_actions,
        tags=tags,
    )
    return FunctionParts(role=role, log_group=log_group, policy=policy, function=function, errors_alarm=errors_alarm)


def metric_alarm(
    name: str,
    *,
    opts: pulumi.ResourceOptions,
    description: str,
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    statistic: str,
    threshold: float,
    alarm_actions: Sequence[pulumi.Input[str]],
    period_s: int = 60,
    tags: Mapping[str, str] | None = None,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm that fires when the metric goes above `threshold` in one period."""
    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric_name,
        dimensions=dict(dimensions),
        statistic=statistic,
        period=period_s,
        evaluation_periods=1,
        comparison_operator="GreaterThanThreshold",
        threshold=threshold,
        treat_missing_data="notBreaching",
        alarm_actions=list(alarm_actions),
        ok_actions=list(alarm_actions),
        tags=dict(tags or {}) or None,
        opts=opts,
    )

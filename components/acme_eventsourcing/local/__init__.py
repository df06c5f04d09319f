"""The local stack: any Pulumi program built with these components, run on this machine.

The program is evaluated under Pulumi's mock engine (no Pulumi CLI, no AWS account); what
it declares (tables, queues, buses, archives, rules) is created on moto in server mode, and
its Lambda handlers run in this process, wired as declared (stream mappings, Pipes, rule
targets, HTTP routes behind a local JWT authorizer, WebSocket APIs as real WebSocket
endpoints).

From the command line, for the Pulumi project in PATH (`Pulumi.yaml`, `Pulumi.<stack>.yaml`)::

    python -m acme_eventsourcing.local plan  --program PATH --stack dev   # tree, counts, policy report
    python -m acme_eventsourcing.local up    --program PATH --stack dev   # serve until Ctrl-C
    python -m acme_eventsourcing.local token --program PATH --stack dev --sub ana --groups admin
    python -m acme_eventsourcing.local schedule fire NAME --program PATH --stack dev   # a running stack's schedule, now

From Python, e.g. an end-to-end test::

    from acme_eventsourcing.local import LocalStack

    with LocalStack.from_program("path/to/project", "dev") as stack:
        response = stack.client("ana", "admin").post("/orders", {"sku": "x"})
        stack.settle()   # every effect (stream, bus, projections) has landed
        stack.advance_clock(by=timedelta(days=3))   # Wait states wake, schedules passed fire

Needs the `local` extra: `pip install 'acme-eventsourcing[local]'` (moto, PyJWT, ...).
Importing this package says so when it is missing; `import acme_eventsourcing` never
imports it. See docs/local.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import ApiClient, Response
    from .program import Program, ProgramError, evaluate
    from .stack import LocalStack, LocalStackError

#: The extra that installs what the local stack imports.
EXTRA = "acme-eventsourcing[local]"
#: Modules the local stack needs beyond the package's own dependencies: (import name, distribution).
REQUIRED: tuple[tuple[str, str], ...] = (
    ("moto", "moto[server]"),
    ("werkzeug", "moto[server]"),
    ("jsonpath_ng", "jsonpath-ng"),
    ("jwt", "PyJWT[crypto]"),
    ("cryptography", "PyJWT[crypto]"),
    ("boto3", "boto3"),
    ("yaml", "PyYAML"),
    ("websockets", "websockets"),
)


def missing_requirements() -> list[str]:
    """The distributions of `REQUIRED` whose module cannot be imported here (none imported)."""
    missing = []
    for module, distribution in REQUIRED:
        try:
            found = sys.modules[module] is not None if module in sys.modules else importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found and distribution not in missing:
            missing.append(distribution)
    return missing


if _missing := missing_requirements():
    raise ImportError(
        f"acme_eventsourcing.local needs {', '.join(_missing)}, which is not installed: install the local extra, pip install '{EXTRA}'"
    )

__all__ = ["ApiClient", "LocalStack", "LocalStackError", "Program", "ProgramError", "Response", "evaluate"]
_HOMES = {
    "ApiClient": "client",
    "Response": "client",
    "LocalStack": "stack",
    "LocalStackError": "stack",
    "Program": "program",
    "ProgramError": "program",
    "evaluate": "program",
}


def __getattr__(name: str) -> Any:
    """`from acme_eventsourcing.local import LocalStack` imports the stack (pulumi, moto,
    boto3) on first use, so the CLI starts light and handles Ctrl-C before that import."""
    if name in _HOMES:
        module = importlib.import_module(f"{__name__}.{_HOMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The examples use the framework as another team would: from its public API only.

A static check of every import in `examples/<project>/`: each module must be the standard
library, a public module of `acme_eventsourcing` (no path segment, and no imported name,
starting with `_`), the project's own code (its `functions/` packages, its tests, its
program), or a distribution its `requirements.txt` names (or one of their direct
dependencies). Anything else (this repository's `lambdas/` packages, the leave product's
`leave*` code, `local`, `components`, a private `acme_eventsourcing._lambda`) fails here,
before CI runs the example from the built wheel in a virtualenv of its own (`python3
tasks.py example`), where such an import fails for real.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if (p / "Pulumi.yaml").exists()) if (ROOT / "examples").exists() else []
PACKAGE = "acme_eventsourcing"


def imported(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, dotted name) of every absolute import in `source`, at any depth; for
    `from m import a, b` also `m.a` and `m.b` (a name may be a submodule or a private
    attribute); `importlib.import_module("m")` and `__import__("m")` with a literal count too."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names if alias.name != "*")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def own_modules(project: Path) -> set[str]:
    """Top-level names the project itself provides: its functions' packages and modules,
    its tests' modules (conftest, helpers) and its program's folder."""
    names: set[str] = set()
    for folder in (project / "functions", project / "tests", project):
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.py"))
            names.update(p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    names.discard("__main__")
    return names


def _requirements(lines: list[str]) -> dict[str, set[str]]:
    """{canonical distribution name: the extras asked for} of requirement lines."""
    found: dict[str, set[str]] = {}
    for line in lines:
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", line) if line and not line.startswith("-") else None
        if match:
            extras = {e.strip() for e in (match.group(2) or "").split(",") if e.strip()}
            found.setdefault(_canonical(match.group(1)), set()).update(extras)
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_third_party(project: Path) -> set[str]:
    """Top-level import names of the distributions `requirements.txt` names, and of their
    direct dependencies with the extras asked for (boto3 brings botocore,
    acme-eventsourcing[testing] pytest), as installed here."""
    asked = _requirements((project / "requirements.txt").read_text().splitlines())
    wanted = set(asked)
    for name, extras in asked.items():
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        marker = re.compile(r"extra\s*==\s*[\"']([^\"']+)[\"']")
        chosen = [r for r in requires if (m := marker.search(r)) is None or m.group(1) in extras]
        wanted |= set(_requirements(chosen))
    return {module for module, dists in metadata.packages_distributions().items() if wanted & {_canonical(d) for d in dists}} - {PACKAGE}


def problems(name: str, own: set[str], third_party: set[str]) -> str | None:
    """Why importing `name` is not allowed in an example, or None."""
    top = name.split(".")[0]
    if top == PACKAGE:
        private = [part for part in name.split(".")[1:] if part.startswith("_")]
        if private:
            return f"{name}: {'.'.join(private)} is private to the package"
        return None if _exists(name) else f"{name}: no such module or name in {PACKAGE}"
    if top in sys.stdlib_module_names or top in own or top in third_party:
        return None
    return f"{name}: not the standard library, the public {PACKAGE} API, the project's own code or a declared requirement"


def _exists(name: str) -> bool:
    """Whether `name` is a module of the package, or a name defined by one (imported to see)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:  # a parent is a module, not a package: `module` is a name in it
            spec = None
        if spec is not None:
            value: object = importlib.import_module(module)
            for attribute in parts[cut:]:
                if not hasattr(value, attribute):
                    return False
                value = getattr(value, attribute)
            return True
    return False


def _files(project: Path) -> list[Path]:
    return sorted(p for p in project.rglob("*.py") if not {"__pycache__", "venv", ".venv"} & set(p.parts))


def test_there_is_an_example():
    assert [p.name for p in EXAMPLES] == ["orders"]


@pytest.mark.parametrize("project", EXAMPLES, ids=lambda p: p.name)
def test_examples_import_only_public_api_their_own_code_and_declared_requirements(project: Path) -> None:
    own, third_party = own_modules(project), declared_third_party(project)
    assert {"pulumi", "boto3"} <= third_party, "the example's requirements.txt must name what it uses"
    found = []
    for path in _files(project):
        for line, name in imported(path.read_text(encoding="utf-8"), str(path)):
            why = problems(name, own, third_party)
            if why:
                found.append(f"{path.relative_to(ROOT)}:{line}: {why}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("project", EXAMPLES, ids=lambda p: p.name)
def test_example_lambda_code_never_imports_pulumi_or_the_testing_helpers(project: Path) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in _files(project / "functions")
        for line, name in imported(path.read_text(encoding="utf-8"))
        if name.split(".")[0] in {"pulumi", "pulumi_aws"}
        or name.startswith((f"{PACKAGE}.testing", f"{PACKAGE}.local"))
        or (name.startswith(PACKAGE) and not name.startswith(f"{PACKAGE}.runtime"))
    ]
    assert not found, "Lambda code imports only acme_eventsourcing.runtime, stdlib and boto3:\n" + "\n".join(found)


def test_the_check_refuses_private_and_product_imports():
    source = """
import acme_eventsourcing._lambda
from acme_eventsourcing import _iam
from acme_eventsourcing.testing._policy_rules import RULES
from acme_eventsourcing.runtime.eventstore import nothing_here
import lambdas.leave
from leave_api import http
from local.stack import LocalStack
import components
import importlib
importlib.import_module("leave_projections.core")
from acme_eventsourcing.runtime.eventstore.ports import Append
from orders import domain
import json, boto3
"""
    own, third_party = {"orders"}, {"boto3", "pulumi"}
    refused = {name for _, name in imported(source) if problems(name, own, third_party)}
    assert refused == {
        "acme_eventsourcing._lambda",
        "acme_eventsourcing._iam",
        "acme_eventsourcing.testing._policy_rules",
        "acme_eventsourcing.testing._policy_rules.RULES",
        "acme_eventsourcing.runtime.eventstore.nothing_here",
        "lambdas.leave",
        "leave_api",
        "leave_api.http",
        "local.stack",
        "local.stack.LocalStack",
        "components",
        "leave_projections.core",
    }

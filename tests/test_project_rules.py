"""House rules that keep the layout honest: checked on every CI run."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HANDLER_PACKAGES = {p.name for p in (ROOT / "lambdas").iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def _imports(path: Path) -> set[str]:
    """Top-level names of every module a file imports (at any depth in the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _python_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _python_files("lambdas"), ids=lambda p: str(p.relative_to(ROOT)))
def test_lambda_code_never_imports_pulumi(path: Path) -> None:
    assert not {"pulumi", "pulumi_aws"} & _imports(path), f"{path} runs in Lambda and must not import pulumi"


def _absolute_imports(path: Path) -> set[str]:
    """Full dotted names a file imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(ROOT / "components").parent.parts)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = node.module if node.level == 0 else ".".join(filter(None, [base, node.module]))
            names.add(module or "")
    return names


@pytest.mark.parametrize("path", _python_files("components/acme_eventsourcing/runtime"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_runtime_library_imports_only_stdlib_boto3_and_itself(path: Path) -> None:
    outside = {
        name
        for name in _absolute_imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names | {"boto3", "botocore"} and not name.startswith("acme_eventsourcing.runtime")
    }
    assert not outside, f"{path} runs in Lambda; it cannot import {sorted(outside)}"


@pytest.mark.parametrize("path", _python_files("components"), ids=lambda p: str(p.relative_to(ROOT)))
def test_components_never_import_handler_code(path: Path) -> None:
    assert not HANDLER_PACKAGES & _imports(path), f"{path} imports Lambda code; components ship it, never run it"


def test_rules_above_see_the_real_packages() -> None:
    assert {"leave", "leave_api", "leave_projections", "notifications"} <= HANDLER_PACKAGES


def test_code_is_ruff_clean_and_formatted() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert ruff, "ruff is in requirements.txt; run python3 tasks.py setup"
    check = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([ruff, "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, "run `.venv/bin/ruff format .`:\n" + fmt.stdout + fmt.stderr


def _product_files() -> list[Path]:
    return [ROOT / "__main__.py", *_python_files("lambdas"), *_python_files("local")]


@pytest.mark.parametrize("path", _product_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_leave_product_uses_only_the_public_api_of_the_package(path: Path) -> None:
    private = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        private.update(m for m in modules if m.startswith("acme_eventsourcing") and any(p.startswith("_") for p in m.split(".")))
    assert not private, f"{path} imports private parts of acme_eventsourcing: {sorted(private)}"


def test_the_public_api_rule_sees_a_private_import(tmp_path: Path) -> None:
    source = tmp_path / "bad.py"
    source.write_text("from acme_eventsourcing._lambda import package_code\n")
    with pytest.raises(AssertionError, match="_lambda"):
        test_the_leave_product_uses_only_the_public_api_of_the_package(source)

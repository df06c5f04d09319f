"""Every Pulumi.yaml / Pulumi.<stack>.yaml in the repository passes our project-file schema,
and the schema refuses what the Pulumi CLI refuses (or what would be a silent typo)."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from acme_eventsourcing.testing.pulumi_project import check_project, check_project_dir, check_stack_settings

ROOT = Path(__file__).resolve().parents[2]


def _project_dirs() -> list[Path]:
    """Every directory of the repository holding a Pulumi.yaml (tracked or not, but no venv)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True)
    names = listed.stdout.split() if listed.returncode == 0 else [str(p.relative_to(ROOT)) for p in ROOT.rglob("Pulumi.yaml")]
    return sorted({(ROOT / n).parent for n in names if Path(n).name in ("Pulumi.yaml", "Pulumi.yml")})


def test_the_repository_has_a_project_file() -> None:
    assert ROOT in _project_dirs()


@pytest.mark.parametrize("directory", _project_dirs(), ids=lambda p: str(p.relative_to(ROOT)) or ".")
def test_every_project_and_stack_file_is_valid(directory: Path) -> None:
    assert check_project_dir(directory) == []


GOOD: dict[str, Any] = {
    "name": "shop",
    "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}},
    "config": {
        "aws:region": {"value": "us-east-1"},
        "size": {"type": "integer", "default": 2, "description": "how many"},
        "origins": {"type": "array", "items": {"type": "string"}},
        "flag": True,
    },
}


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    *head, last = path.split(".")
    node = data
    for key in head:
        node = node[key]
    node[last] = value
    return data


def test_a_valid_project_passes() -> None:
    assert check_project(GOOD) == []
    assert check_project({"name": "x.y_z-1", "runtime": "nodejs", "backend": {"url": "file://~"}, "options": {"refresh": "always"}}) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_with("config.rate", {"type": "number"}), "config.rate"),
        (_with("extra", 1), "Additional properties are not allowed ('extra'"),
        ({"runtime": "python"}, "'name' is a required property"),
        ({"name": "x"}, "'runtime' is a required property"),
        ({"name": "has space", "runtime": "python"}, "name"),
        ({"name": "x", "runtime": "cobol"}, "runtime"),
        (_with("runtime.options.toolchain", "conda"), "runtime"),
        (_with("config.origins", {"type": "array"}), "'items' is a required property"),
        (_with("config.size", {"type": "string", "items": {"type": "string"}}), "config.size"),
        (_with("config.size", {"type": "integer", "default": "two"}), "config.size.default: 'two' is not of the declared type integer"),
        (_with("config.origins", {"type": "array", "items": {"type": "string"}, "default": [1]}), "item 0"),
        (_with("config.size", {"type": "integer", "unknown": 1}), "config.size"),
        (_with("config.aws:region", {"type": "string"}), "another namespace"),
        (_with("options", {"refresh": "sometimes"}), "options.refresh"),
        (_with("backend", {"url": "s3://b", "region": "x"}), "backend"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_schema_refuses(data: dict[str, Any], expected: str) -> None:
    errors = check_project(data)
    assert errors and any(expected in e for e in errors), errors


def test_stack_values_must_match_the_declared_types() -> None:
    ok = {"config": {"aws:region": "eu-west-1", "shop:size": 3, "shop:origins": ["https://a"], "shop:flag": {"secure": "v1:abc"}}}
    assert check_stack_settings(ok, GOOD) == []
    bad = {"config": {"shop:size": "3", "shop:origins": [1], "shop:sise": 1}, "secretprovider": "x"}
    errors = check_stack_settings(bad, GOOD)
    assert any("secretprovider" in e for e in errors), errors
    errors = check_stack_settings({"config": bad["config"]}, GOOD)
    assert sorted(e.split(": ")[1] for e in errors) == ["config.shop:origins", "config.shop:sise", "config.shop:size"], errors


def test_a_directory_with_a_bad_stack_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump({**GOOD, "config": {"rate": {"type": "integer"}}}))
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  shop:rate: 2.5\n")
    errors = check_project_dir(tmp_path)
    assert len(errors) == 1 and "Pulumi.dev.yaml: config.shop:rate: 2.5 is not of the declared type integer" in errors[0], errors


def test_the_platform_project_is_checked_too() -> None:
    """The second Pulumi project (platform/) is one of the directories checked above, with its stack files."""
    platform = ROOT / "platform"
    assert platform in _project_dirs()
    assert {p.name for p in platform.glob("Pulumi.*.yaml")} >= {"Pulumi.dev.yaml", "Pulumi.prod.yaml"}
    project = yaml.safe_load((platform / "Pulumi.yaml").read_text())
    assert project["name"] == "platform"
    assert all(d.get("description") for d in project["config"].values()), "every config key is documented"

"""The packaged local stack runs a Pulumi program that is not this repository's.

`tests/e2e/programs/notes` is a small project (a table, one function, an HTTP API with a
public and two JWT routes) written with plain pulumi_aws: `acme_eventsourcing.local` runs it
from the Python API (`LocalStack.from_program`) and from its command line, from another
working directory, knowing nothing of the leave product."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from acme_eventsourcing.local import LocalStack, LocalStackError

NOTES = Path(__file__).resolve().parent / "programs" / "notes"


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acme_eventsourcing.local", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def test_a_program_runs_from_the_python_api_with_its_config_routes_and_authorizer(tmp_path: Path) -> None:
    lines: list[str] = []
    with LocalStack.from_program(NOTES, "dev", port=0, log=lines.append, state_dir=tmp_path) as stack:
        assert stack.client().get("/hello").json == {"greeting": "hello from dev"}  # from Pulumi.dev.yaml
        assert stack.client().get("/notes").status == 401  # a JWT route without a token
        ana, bob = stack.client("ana"), stack.client("bob")
        assert ana.post("/notes", {"text": "buy milk"}).status == 201
        assert ana.post("/notes", {"text": ""}).status == 400
        assert ana.get("/notes").json == ["buy milk"]
        assert bob.get("/notes").json == []
        claims = jwt.decode(stack.token("ana"), options={"verify_signature": False})
        assert (claims["iss"], claims["aud"], claims["sub"]) == ("https://issuer.example.com", "notes", "ana")
    banner = "\n".join(lines)
    assert f"-m acme_eventsourcing.local token --program {NOTES} --stack dev" in banner
    assert "leave" not in banner and "approvers" not in banner


def test_a_missing_program_or_stack_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocalStackError, match=r"no stack 'prod': stacks are dev"):
        LocalStack.from_program(NOTES, "prod", port=0, log=None, state_dir=tmp_path).start()
    with pytest.raises(LocalStackError, match="has no Pulumi.yaml"):
        LocalStack.from_program(tmp_path, "dev", port=0, log=None, state_dir=tmp_path).start()
    with pytest.raises(LocalStackError, match="give program="):
        LocalStack("dev", port=0, log=None, state_dir=tmp_path).start()


def test_the_command_line_plans_a_program_given_by_path_from_another_directory(tmp_path: Path) -> None:
    result = _cli("plan", "--program", str(NOTES), "--stack", "dev", cwd=tmp_path)
    assert "Plan for stack 'dev' of project 'notes'" in result.stdout, result.stderr
    assert "aws:apigatewayv2/route:Route" in result.stdout and "Policy report for stack notes/dev" in result.stdout
    assert result.returncode == 1  # the notes table is not encrypted: the policy report fails, so does plan
    refused = _cli("plan", "--program", str(NOTES), "--stack", "prod", cwd=tmp_path)
    assert refused.returncode == 2 and "no stack 'prod': stacks are dev" in refused.stderr
    no_project = _cli("up", "--program", str(tmp_path), cwd=tmp_path)
    assert no_project.returncode == 2 and "has no Pulumi.yaml" in no_project.stderr


def test_the_command_line_mints_tokens_for_the_declared_authorizer(tmp_path: Path) -> None:
    env = {**os.environ, "LOCAL_STACK_STATE_DIR": str(tmp_path)}
    result = _cli("token", "--program", str(NOTES), "--sub", "ana", "--groups", "admin,ops", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["sub"], claims["cognito:groups"]) == (
        "https://issuer.example.com",
        "notes",
        "ana",
        ["admin", "ops"],
    )


def test_without_the_local_extra_the_import_names_it() -> None:
    probe = "import sys; sys.modules['moto'] = None; import acme_eventsourcing.local"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "ImportError: acme_eventsourcing.local needs moto[server]" in result.stderr
    assert "pip install 'acme-eventsourcing[local]'" in result.stderr


def test_importing_the_package_imports_neither_the_local_stack_nor_moto_nor_pulumi() -> None:
    probe = "import sys, acme_eventsourcing; print(sorted(m for m in ('moto', 'pulumi', 'acme_eventsourcing.local') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr

"""Validate `Pulumi.yaml` (the project file) and `Pulumi.<stack>.yaml` (stack settings)
before the Pulumi CLI refuses them.

Our own JSON Schemas of the documented constraints (Pulumi's project file reference),
deliberately a little stricter than the CLI where a typo would otherwise pass silently:

- project: `name` (letters, digits, `-`, `_`, `.`) and `runtime` (`nodejs`, `python`, `go`,
  `dotnet`, `java`, `yaml`; a name or `{name, options}`; the python options are
  `toolchain` pip/poetry/uv, `virtualenv`, `typechecker` mypy/pyright) are required; the
  only other keys are `description`, `main`, `stackConfigDir`, `config`, `backend`
  (`url`), `options` (`refresh: always`), `template`, `plugins` (`providers`,
  `analyzers`, `languages`), `author`, `website`, `license`;
- a project config key is a plain value (string, integer, boolean) or a declaration with
  `type` one of string / integer / boolean / array (there is no `number`), `items` for an
  array (nested the same way), and optional `description`, `default`, `value`, `secret`;
  a key of another namespace (`aws:region`) may only give a `value`; a `default` or
  `value` must have the declared type;
- stack file: only `config`, `environment`, `secretsprovider`, `encryptedkey`,
  `encryptionsalt`; every config value of a key the project declares has the declared
  type (a secret, `{secure: ...}`, is accepted for any type); a key in the project's own
  namespace that the project does not declare is refused (a typo the CLI would accept).

    from acme_eventsourcing.testing.pulumi_project import check_project_dir
    assert check_project_dir(".") == []      # [] or one message per problem, naming the file
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

#: The config types the CLI knows (`number` is not one of them: use integer, or string and parse it).
CONFIG_TYPES = ("string", "integer", "boolean", "array")
RUNTIMES = ("nodejs", "python", "go", "dotnet", "java", "yaml")
_NAME = r"^[A-Za-z0-9_.-]+$"

_ITEMS: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "properties": {"type": {"enum": list(CONFIG_TYPES)}, "items": {"$ref": "#/$defs/items"}},
    "if": {"properties": {"type": {"const": "array"}}},
    "then": {"required": ["items"]},
    "else": {"not": {"required": ["items"]}},
}

_DECLARATION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["type"]}, {"required": ["value"]}, {"required": ["default"]}],
    "properties": {
        "type": {"enum": list(CONFIG_TYPES)},
        "items": {"$ref": "#/$defs/items"},
        "description": {"type": "string"},
        "secret": {"type": "boolean"},
        "default": {},
        "value": {},
    },
    "if": {"properties": {"type": {"const": "array"}}, "required": ["type"]},
    "then": {"required": ["items"]},
    "else": {"not": {"required": ["items"]}},
}

_PLUGIN = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "path": {"type": "string"}, "version": {"type": "string"}},
}

#: JSON Schema of `Pulumi.yaml`.
PROJECT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Pulumi project file (Pulumi.yaml), as this repository checks it",
    "type": "object",
    "required": ["name", "runtime"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "pattern": _NAME},
        "description": {"type": "string"},
        "author": {"type": "string"},
        "website": {"type": "string"},
        "license": {"type": "string"},
        "main": {"type": "string", "minLength": 1},
        "stackConfigDir": {"type": "string", "minLength": 1},
        "runtime": {
            "oneOf": [
                {"enum": list(RUNTIMES)},
                {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {"name": {"enum": list(RUNTIMES)}, "options": {"type": "object"}},
                    "if": {"properties": {"name": {"const": "python"}}},
                    "then": {
                        "properties": {
                            "options": {
                                "additionalProperties": False,
                                "properties": {
                                    "toolchain": {"enum": ["pip", "poetry", "uv"]},
                                    "virtualenv": {"type": "string", "minLength": 1},
                                    "typechecker": {"enum": ["mypy", "pyright"]},
                                },
                            }
                        }
                    },
                },
            ]
        },
        "config": {
            "type": "object",
            "propertyNames": {"pattern": r"^([A-Za-z0-9_.-]+:)?[A-Za-z0-9_.-]+$"},
            "additionalProperties": {
                "oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"$ref": "#/$defs/declaration"}]
            },
        },
        "backend": {"type": "object", "additionalProperties": False, "properties": {"url": {"type": "string", "minLength": 1}}},
        "options": {"type": "object", "additionalProperties": False, "properties": {"refresh": {"const": "always"}}},
        "template": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "description": {"type": "string"},
                "quickstart": {"type": "string"},
                "important": {"type": "boolean"},
                "config": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"description": {"type": "string"}, "default": {}, "secret": {"type": "boolean"}},
                    },
                },
            },
        },
        "plugins": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: {"type": "array", "items": _PLUGIN} for k in ("providers", "analyzers", "languages")},
        },
    },
    "$defs": {"items": _ITEMS, "declaration": _DECLARATION},
}

#: JSON Schema of `Pulumi.<stack>.yaml` (the per-key type checks are in `check_stack_file`).
STACK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Pulumi stack settings file (Pulumi.<stack>.yaml), as this repository checks it",
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "config": {"type": ["object", "null"], "propertyNames": {"pattern": r"^([A-Za-z0-9_.-]+:)?[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*$"}},
        "environment": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]},
        "secretsprovider": {"type": "string"},
        "encryptedkey": {"type": "string"},
        "encryptionsalt": {"type": "string"},
    },
}


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _schema_errors(data: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        at = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        # a oneOf/anyOf failure says little by itself: name the most specific cause
        # (a branch that failed on the value's JSON type is the least informative)
        cause = min(error.context, key=lambda e: (e.validator == "type", -len(e.absolute_path))) if error.context else error
        out.append(f"{where}: {at}: {cause.message}")
    return out


def _type_problem(value: Any, declared: Mapping[str, Any]) -> str | None:
    """Why `value` does not have the declared config type (None if it does)."""
    kind = declared.get("type")
    if kind is None:
        return None
    if isinstance(value, Mapping) and set(value) == {"secure"}:
        return None  # an encrypted value: its type cannot be seen
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
    }.get(kind, False)
    if not ok:
        return f"{value!r} is not of the declared type {kind}"
    if kind == "array":
        for i, item in enumerate(value):
            problem = _type_problem(item, declared.get("items") or {})
            if problem:
                return f"item {i}: {problem}"
    return None


def check_project(data: Any, where: str = "Pulumi.yaml") -> list[str]:
    """Problems of a parsed project file (empty list = valid)."""
    errors = _schema_errors(data, PROJECT_SCHEMA, where)
    if errors or not isinstance(data, Mapping):
        return errors
    project = data["name"]
    for key, decl in (data.get("config") or {}).items():
        if not isinstance(decl, Mapping):
            continue
        namespace = key.split(":", 1)[0] if ":" in key else project
        if namespace != project and set(decl) - {"value"}:
            errors.append(f"{where}: config.{key}: a key of another namespace ({namespace}) may only set a value")
        for field in ("default", "value"):
            if field in decl:
                problem = _type_problem(decl[field], decl)
                if problem:
                    errors.append(f"{where}: config.{key}.{field}: {problem}")
    return errors


def check_stack_settings(data: Any, project: Mapping[str, Any], where: str = "Pulumi.<stack>.yaml") -> list[str]:
    """Problems of a parsed stack file, given its (valid) parsed project file."""
    errors = _schema_errors(data, STACK_SCHEMA, where)
    if errors or not data:
        return errors
    name = project["name"]
    declared = {(k if ":" in k else f"{name}:{k}"): v for k, v in (project.get("config") or {}).items()}
    for key, value in (data.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        decl = declared.get(full)
        if decl is None:
            if full.split(":", 1)[0] == name:
                errors.append(f"{where}: config.{key}: not declared in the project's config (a typo?)")
            continue
        if isinstance(decl, Mapping):
            problem = _type_problem(value, decl)
            if problem:
                errors.append(f"{where}: config.{key}: {problem}")
    return errors


def check_project_dir(directory: str | os.PathLike[str]) -> list[str]:
    """Problems of `Pulumi.yaml` and every `Pulumi.<stack>.yaml` in `directory` (empty = valid)."""
    root = Path(directory)
    project_file = next((root / n for n in ("Pulumi.yaml", "Pulumi.yml") if (root / n).is_file()), None)
    if project_file is None:
        return [f"{root}: no Pulumi.yaml"]
    project = _load(project_file)
    errors = check_project(project, str(project_file))
    if errors:
        return errors
    config_dir = root / project.get("stackConfigDir", ".")
    for path in sorted(config_dir.glob("Pulumi.*.y*ml")):
        if re.fullmatch(r"Pulumi\.[^.]+\.ya?ml", path.name):
            errors += check_stack_settings(_load(path), project, str(path))
    return errors

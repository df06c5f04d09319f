"""A small JSON-Schema subset validator (stdlib only; jsonschema is too big for the Lambda zip).

Supported keywords: type, required, properties, additionalProperties, enum, pattern,
minLength, maxLength, minimum, maximum, multipleOf, items, minItems, maxItems,
uniqueItems and `format: date`. Annotations (title, description, examples, ...) are
ignored. `check_schema` rejects any other keyword, so a schema can never silently ask
for something this validator does not enforce.

Semantics follow JSON Schema 2020-12 as implemented by `jsonschema` (the tests
cross-check both), with one deliberate difference: `pattern` uses ECMA-262 anchors,
so `$` matches only at the very end (Python's `$` also matches before a final newline,
which would let `"john\\n"` through an id pattern).

Errors name the offending field: `body.days[2]`, `body.name`, `query.year`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import date
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ._frozen import frozen_dataclass

ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "examples", "example", "default", "deprecated", "readOnly", "writeOnly"}
)
KEYWORDS = frozenset(
    {
        "type",
        "required",
        "properties",
        "additionalProperties",
        "enum",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "multipleOf",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "format",
    }
)
FORMATS = frozenset({"date"})
TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTEGER_TEXT = re.compile(r"-?[0-9]{1,18}")
_ARTICLE = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


@frozen_dataclass
class FieldError:
    """One violation: the field's path (`body.days[2]`) and a message that names it."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ValidationFailed(ValueError):
    """The instance does not satisfy the schema; `errors` lists every violation found."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(errors[0].message)
        self.errors = tuple(errors)


class SchemaError(ValueError):
    """The schema uses something this validator does not support."""


def validate(instance: Any, schema: Mapping[str, Any], where: str = "body") -> None:
    """Raise `ValidationFailed` if `instance` does not satisfy `schema`."""
    found = errors(instance, schema, where)
    if found:
        raise ValidationFailed(found)


def errors(instance: Any, schema: Mapping[str, Any], where: str = "body", limit: int = 20) -> list[FieldError]:
    """The first `limit` violations, in a stable order (required, properties, unknown fields)."""
    found: list[FieldError] = []
    for error in iter_errors(instance, schema, where):
        found.append(error)
        if len(found) >= limit:
            break
    return found


def is_valid(instance: Any, schema: Mapping[str, Any]) -> bool:
    """True if `instance` satisfies `schema`."""
    return next(iter_errors(instance, schema, "value"), None) is None


def child(path: str, key: str | int) -> str:
    """The path of a property or an item: `body.name`, `body.days[2]`, `body["a-b"]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key[:64])}]"


def iter_errors(instance: Any, schema: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    """Every violation of `schema` by `instance` located at `path`."""
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_is_type(instance, name) for name in names):
            wanted = " or ".join(_ARTICLE.get(name, name) for name in names)
            yield FieldError(path, f"{path} must be {wanted}")
            return
    if "enum" in schema and _key(instance) not in {_key(option) for option in schema["enum"]}:
        options = ", ".join(json.dumps(option) if not isinstance(option, str) else option for option in schema["enum"])
        yield FieldError(path, f"{path} must be one of: {options}")
    if isinstance(instance, str):
        yield from _string_errors(instance, schema, path)
    elif _is_type(instance, "number"):
        yield from _number_errors(instance, schema, path)
    elif isinstance(instance, list):
        yield from _array_errors(instance, schema, path)
    elif isinstance(instance, dict):
        yield from _object_errors(instance, schema, path)


def coerce_query(params: Mapping[str, str] | None, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Query-string values are text: turn those whose schema says integer into ints
    (when they look like one) so that the schema can then check ranges."""
    properties = schema.get("properties", {})
    result: dict[str, Any] = {}
    for name, value in (params or {}).items():
        declared = properties.get(name, {}).get("type")
        if declared == "integer" and isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            result[name] = int(value)
        else:
            result[name] = value
    return result


def check_schema(schema: Any, path: str = "#") -> None:
    """Raise `SchemaError` if `schema` uses a keyword, type or format this validator ignores."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"{path}: a schema must be an object")
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise SchemaError(f"{path}: unsupported keywords {sorted(unknown)}")
    expected = schema.get("type")
    names = [expected] if isinstance(expected, str) else list(expected or [])
    if any(name not in TYPES for name in names):
        raise SchemaError(f"{path}: unknown type {expected!r}")
    if "format" in schema and schema["format"] not in FORMATS:
        raise SchemaError(f"{path}: unsupported format {schema['format']!r}")
    if "pattern" in schema:
        _compiled(schema["pattern"])
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{path}/properties/{name}")
    for keyword in ("items", "additionalProperties"):
        sub = schema.get(keyword)
        if isinstance(sub, Mapping):
            check_schema(sub, f"{path}/{keyword}")
        elif keyword == "items" and sub is not None:
            raise SchemaError(f"{path}/items: must be a schema")


def _is_type(instance: Any, name: str) -> bool:
    if name == "object":
        return isinstance(instance, dict)
    if name == "array":
        return isinstance(instance, list)
    if name == "string":
        return isinstance(instance, str)
    if name == "boolean":
        return isinstance(instance, bool)
    if name == "null":
        return instance is None
    if isinstance(instance, bool):
        return False
    if name == "integer":
        return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())
    if name == "number":
        return isinstance(instance, (int, float))
    return False


def _string_errors(instance: str, schema: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    if "minLength" in schema and len(instance) < schema["minLength"]:
        yield FieldError(path, f"{path} must be at least {schema['minLength']} characters long")
    if "maxLength" in schema and len(instance) > schema["maxLength"]:
        yield FieldError(path, f"{path} must be at most {schema['maxLength']} characters long")
    if "pattern" in schema and not _compiled(schema["pattern"]).search(instance):
        hint = f" ({schema['description']})" if "description" in schema else ""
        yield FieldError(path, f"{path} does not match the pattern {schema['pattern']}{hint}")
    if schema.get("format") == "date" and not _is_date(instance):
        yield FieldError(path, f"{path} must be a date YYYY-MM-DD")


def _number_errors(instance: int | float, schema: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    if "minimum" in schema and instance < schema["minimum"]:
        yield FieldError(path, f"{path} must be >= {schema['minimum']}")
    if "maximum" in schema and instance > schema["maximum"]:
        yield FieldError(path, f"{path} must be <= {schema['maximum']}")
    if "multipleOf" in schema and not _is_multiple(instance, schema["multipleOf"]):
        yield FieldError(path, f"{path} must be a multiple of {schema['multipleOf']}")


def _array_errors(instance: list[Any], schema: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    if "minItems" in schema and len(instance) < schema["minItems"]:
        yield FieldError(path, f"{path} must have at least {schema['minItems']} items")
    if "maxItems" in schema and len(instance) > schema["maxItems"]:
        yield FieldError(path, f"{path} must have at most {schema['maxItems']} items")
    if schema.get("uniqueItems"):
        seen: dict[Any, int] = {}
        for index, item in enumerate(instance):
            first = seen.setdefault(_key(item), index)
            if first != index:
                yield FieldError(child(path, index), f"{child(path, index)} duplicates {child(path, first)}")
                break
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(instance):
            yield from iter_errors(item, items, child(path, index))


def _object_errors(instance: dict[str, Any], schema: Mapping[str, Any], path: str) -> Iterator[FieldError]:
    for name in schema.get("required", ()):
        if name not in instance:
            yield FieldError(child(path, name), f"{child(path, name)} is required")
    properties: Mapping[str, Any] = schema.get("properties", {})
    for name, sub in properties.items():
        if name in instance:
            yield from iter_errors(instance[name], sub, child(path, name))
    extra = schema.get("additionalProperties", True)
    if extra is True:
        return
    for name in instance:
        if name in properties:
            continue
        if extra is False:
            yield FieldError(child(path, name), f"{child(path, name)} is not allowed (unknown field)")
        else:
            yield from iter_errors(instance[name], extra, child(path, name))


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_multiple(instance: int | float, divisor: int | float) -> bool:
    if isinstance(divisor, float):
        try:
            quotient = instance / divisor
            return int(quotient) == quotient
        except OverflowError:
            return (Fraction(instance) / Fraction(divisor)).denominator == 1
    return instance % divisor == 0


def _key(value: Any) -> Any:
    """A hashable form under JSON equality: `true` is not `1`, `1` is `1.0`, containers deep."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_key(item) for item in value))
    return ("object", frozenset((name, _key(item)) for name, item in value.items()))


@lru_cache(maxsize=128)
def _compiled(pattern: str) -> re.Pattern[str]:
    """Compile an ECMA-262-style pattern: ASCII classes, `$` only at the very end."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append(r"\Z")
            continue
        out.append(char)
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error as exc:
        raise SchemaError(f"invalid pattern {pattern!r}: {exc}") from exc

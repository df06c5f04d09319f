"""EventBridge-style pattern matching, for the filter criteria of event source mappings.

Lambda filters stream and queue records with the same pattern language as EventBridge
rules. Rules themselves are matched by moto (the local stack puts the declared pattern on
moto's bus); this module covers the event source mappings, which moto does not run.

Supported: nested objects, `$or`, literal values (strings, numbers compared numerically,
booleans, null), and the operators `prefix`, `suffix`, `equals-ignore-case`, `wildcard`,
`anything-but` (value, list, or `prefix`/`suffix`/`equals-ignore-case`/`wildcard`),
`numeric`, `exists` and `cidr`. A pattern with anything else raises `UnsupportedPatternError`
when the local stack starts, so nothing is skipped silently.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_MISSING = object()
_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
}
_STRING_OPS = {"prefix", "suffix", "equals-ignore-case", "wildcard"}


class UnsupportedPatternError(ValueError):
    """The pattern uses something this matcher does not implement (or is malformed)."""


@dataclass(frozen=True)
class Pattern:
    """A validated pattern: `Pattern.parse(text_or_dict).matches(event)`."""

    source: Mapping[str, Any]

    @classmethod
    def parse(cls, pattern: str | Mapping[str, Any]) -> Pattern:
        parsed = json.loads(pattern) if isinstance(pattern, str) else pattern
        if not isinstance(parsed, Mapping):
            raise UnsupportedPatternError(f"a pattern is a JSON object, got {parsed!r}")
        _validate_object(parsed, path="")
        return cls(parsed)

    def matches(self, event: Any) -> bool:
        return _match_object(self.source, event)


def matches_any(patterns: tuple[Pattern, ...], event: Any) -> bool:
    """Lambda's rule for `FilterCriteria.Filters`: no filters, or any one matches."""
    return not patterns or any(p.matches(event) for p in patterns)


def _validate_object(pattern: Mapping[str, Any], path: str) -> None:
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or not value or not all(isinstance(v, Mapping) for v in value):
                raise UnsupportedPatternError(f"{where}: $or takes a non-empty list of objects")
            for v in value:
                _validate_object(v, where)
        elif isinstance(value, Mapping):
            _validate_object(value, where)
        elif isinstance(value, list):
            if not value:
                raise UnsupportedPatternError(f"{where}: empty lists match nothing and are rejected by AWS")
            for matcher in value:
                _validate_matcher(matcher, where)
        else:
            raise UnsupportedPatternError(f"{where}: must be an object or a list of matchers, got {value!r}")


def _validate_matcher(matcher: Any, where: str) -> None:
    if matcher is None or isinstance(matcher, (str, int, float, bool)):
        return
    if not isinstance(matcher, Mapping) or len(matcher) != 1:
        raise UnsupportedPatternError(f"{where}: a matcher is a value or a one-key object, got {matcher!r}")
    ((op, arg),) = matcher.items()
    if op in _STRING_OPS:
        if op in {"prefix", "suffix"} and isinstance(arg, Mapping) and set(arg) == {"equals-ignore-case"}:
            arg = arg["equals-ignore-case"]
        if not isinstance(arg, str):
            raise UnsupportedPatternError(f"{where}: {op} takes a string, got {arg!r}")
    elif op == "anything-but":
        if isinstance(arg, Mapping):
            _validate_matcher(arg, where)
            if next(iter(arg)) not in _STRING_OPS:
                raise UnsupportedPatternError(f"{where}: anything-but supports {sorted(_STRING_OPS)} inside, got {arg!r}")
        elif isinstance(arg, list):
            for v in arg:
                _validate_matcher(v, where)
        else:
            _validate_matcher(arg, where)
    elif op == "numeric":
        if (
            not isinstance(arg, list)
            or len(arg) not in {2, 4}
            or any(o not in _NUMERIC_OPS or not isinstance(n, (int, float)) for o, n in zip(arg[::2], arg[1::2], strict=True))
        ):
            raise UnsupportedPatternError(f"{where}: numeric takes [op, n] or [op, n, op, n], got {arg!r}")
    elif op == "exists":
        if not isinstance(arg, bool):
            raise UnsupportedPatternError(f"{where}: exists takes true or false")
    elif op == "cidr":
        try:
            ipaddress.ip_network(arg, strict=False)
        except ValueError as exc:
            raise UnsupportedPatternError(f"{where}: bad cidr {arg!r}") from exc
    else:
        raise UnsupportedPatternError(f"{where}: operator {op!r} is not supported by the local stack's matcher")


def _match_object(pattern: Mapping[str, Any], event: Any) -> bool:
    if isinstance(event, list):  # objects inside arrays: any element may match
        return any(_match_object(pattern, e) for e in event)
    for key, value in pattern.items():
        if key == "$or":
            if not any(_match_object(p, event) for p in value):
                return False
            continue
        field = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(value, Mapping):
            if field is _MISSING or not _match_object(value, field):
                return False
        elif not _match_leaf(value, field):
            return False
    return True


def _match_leaf(matchers: list[Any], field: Any) -> bool:
    if field is _MISSING:
        return any(isinstance(m, Mapping) and m.get("exists") is False for m in matchers)
    values = field if isinstance(field, list) else [field]
    return any(_match_one(m, v) for m in matchers for v in values)


def _match_one(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, Mapping):
        return _equal(matcher, value)
    ((op, arg),) = matcher.items()
    if op == "exists":
        return arg is True
    if op == "anything-but":
        if isinstance(arg, Mapping):
            return isinstance(value, str) and not _match_one(arg, value)
        excluded = arg if isinstance(arg, list) else [arg]
        return not any(_equal(x, value) for x in excluded)
    if op == "numeric":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return all(_NUMERIC_OPS[o](value, n) for o, n in zip(arg[::2], arg[1::2], strict=True))
    if op == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(arg, strict=False)
        except (TypeError, ValueError):
            return False
    if not isinstance(value, str):
        return False
    ignore_case = isinstance(arg, Mapping)
    text = arg["equals-ignore-case"] if ignore_case else arg
    subject = value.lower() if ignore_case else value
    text = text.lower() if ignore_case else text
    if op == "prefix":
        return subject.startswith(text)
    if op == "suffix":
        return subject.endswith(text)
    if op == "equals-ignore-case":
        return value.lower() == arg.lower()
    return re.fullmatch(".*".join(re.escape(part) for part in text.split("*")), value, re.DOTALL) is not None


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool) or expected is None or value is None:
        return expected is value or (type(expected) is type(value) and expected == value)
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value

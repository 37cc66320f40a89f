"""Type checkers: one compiled function per annotation, with Pydantic's lax-mode rules.

A checker is ``check(value, loc, errors) -> value | FAIL``: it returns the (coerced) value,
or appends error dicts (``type``, ``loc``, ``msg``, ``input``) to ``errors`` and returns
:data:`FAIL`. The rules, error types and messages are Pydantic v2's for the types Bastion's
settings and tool arguments use (``tests/test_datamodel.py`` compares both on the same
inputs); other annotations are refused when the class is first used.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

FAIL: Any = object()

Errors = list[dict[str, Any]]
Loc = tuple[Any, ...]
Check = Callable[[Any, Loc, Errors], Any]

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_INT_STR = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_I64 = 2 ** 63


def error(errors: Errors, kind: str, loc: Loc, msg: str, value: Any) -> Any:
    errors.append({"type": kind, "loc": loc, "msg": msg, "input": value})
    return FAIL


def _check_str(value: Any, loc: Loc, errors: Errors) -> Any:
    if isinstance(value, str):
        return value
    return error(errors, "string_type", loc, "Input should be a valid string", value)


def _check_int(value: Any, loc: Loc, errors: Errors) -> Any:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or abs(value) >= _I64:
            return error(errors, "int_parsing_size", loc,
                         "Unable to parse input string as an integer, exceeded maximum size",
                         value)
        if not value.is_integer():
            return error(errors, "int_from_float", loc, "Input should be a valid integer, got "
                         "a number with a fractional part", value)
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if _INT_STR.fullmatch(text):
            return int(text.split(".", 1)[0])
        return error(errors, "int_parsing", loc,
                     "Input should be a valid integer, unable to parse string as an integer",
                     value)
    return error(errors, "int_type", loc, "Input should be a valid integer", value)


def _check_float(value: Any, loc: Loc, errors: Errors) -> Any:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return error(errors, "float_parsing", loc,
                         "Input should be a valid number, unable to parse string as a number",
                         value)
    return error(errors, "float_type", loc, "Input should be a valid number", value)


def _check_bool(value: Any, loc: Loc, errors: Errors) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and (text := value.strip().lower()) in _TRUE | _FALSE:
        return text in _TRUE
    if isinstance(value, (int, str)) or (isinstance(value, float) and value.is_integer()
                                         and abs(value) < _I64):
        return error(errors, "bool_parsing", loc,
                     "Input should be a valid boolean, unable to interpret input", value)
    return error(errors, "bool_type", loc, "Input should be a valid boolean", value)


def _check_any(value: Any, loc: Loc, errors: Errors) -> Any:
    return value


def _either(options: list[str]) -> str:
    return options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]


def _literal(values: tuple[Any, ...]) -> Check:
    expected = "Input should be " + _either([repr(v) for v in values])

    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        for allowed in values:
            if type(value) is type(allowed) and value == allowed:
                return value
        return error(errors, "literal_error", loc, expected, value)
    return check


def _list(item: Check) -> Check:
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        if not isinstance(value, (list, tuple)):
            return error(errors, "list_type", loc, "Input should be a valid list", value)
        out, failed = [], False
        for i, entry in enumerate(value):
            checked = item(entry, (*loc, i), errors)
            failed = failed or checked is FAIL
            out.append(checked)
        return FAIL if failed else out
    return check


def _dict(item: Check) -> Check:
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        if not isinstance(value, dict):
            return error(errors, "dict_type", loc, "Input should be a valid dictionary", value)
        out, failed = {}, False
        for key, entry in value.items():
            if not isinstance(key, str):
                failed = True
                error(errors, "string_type", (*loc, key, "[key]"),
                      "Input should be a valid string", key)
            checked = item(entry, (*loc, key), errors)
            failed = failed or checked is FAIL
            out[key] = checked
        return FAIL if failed else out
    return check


def _optional(inner: Check) -> Check:
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        return None if value is None else inner(value, loc, errors)
    return check


def _union(members: list[tuple[str, Check]]) -> Check:
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        collected: Errors = []
        for tag, member in members:
            attempt: Errors = []
            checked = member(value, (*loc, tag), attempt)
            if checked is not FAIL:
                return checked
            collected += attempt
        errors += collected
        return FAIL
    return check


def _tag(tp: Any) -> str:
    """The name Pydantic gives a union member in error locations."""
    if typing.get_origin(tp) is Literal:
        return "literal[" + ",".join(repr(v) for v in typing.get_args(tp)) + "]"
    origin = typing.get_origin(tp)
    if origin is not None:
        return f"{origin.__name__}[{','.join(_tag(a) for a in typing.get_args(tp))}]"
    return str(getattr(tp, "__name__", tp))


_SCALARS: dict[Any, tuple[Check, dict[str, Any]]] = {
    str: (_check_str, {"type": "string"}),
    int: (_check_int, {"type": "integer"}),
    float: (_check_float, {"type": "number"}),
    bool: (_check_bool, {"type": "boolean"}),
    Any: (_check_any, {}),
}


def compile_type(tp: Any, model_check: Callable[[Any], Check]) -> tuple[Check, dict[str, Any]]:
    """The checker and JSON schema of annotation ``tp``; ``model_check(cls)`` compiles a
    nested model class."""
    if tp in _SCALARS:
        return _SCALARS[tp]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        kind = {str: "string", int: "integer", bool: "boolean"}.get(type(args[0]))
        schema: dict[str, Any] = {"enum": list(args)} if len(args) > 1 else {"const": args[0]}
        if kind and all(type(a) is type(args[0]) for a in args):
            schema["type"] = kind
        return _literal(args), schema
    if origin is list:
        item, item_schema = compile_type(args[0], model_check)
        return _list(item), {"items": item_schema, "type": "array"}
    if origin is dict and args[0] is str:
        item, item_schema = compile_type(args[1], model_check)
        return _dict(item), {"additionalProperties": item_schema, "type": "object"}
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        compiled = [compile_type(a, model_check) for a in members]
        inner: Check = (compiled[0][0] if len(members) == 1
                        else _union([(_tag(m), c[0]) for m, c in zip(members, compiled, strict=True)]))
        schemas = [c[1] for c in compiled]
        if len(members) < len(args):
            return _optional(inner), {"anyOf": [*schemas, {"type": "null"}]}
        return inner, {"anyOf": schemas}
    if isinstance(tp, type) and hasattr(tp, "__datamodel_fields__"):
        return model_check(tp), {"$ref": tp.__name__}
    raise TypeError(f"datamodel: unsupported annotation {tp!r}")


def constrained(check: Check, limits: dict[str, Any]) -> Check:
    """``check`` followed by the field's constraints: numeric bounds ``ge``/``gt``/``le``/
    ``lt``, ``pattern`` (searched, as Pydantic does) and ``min_length`` (strings and lists);
    ``None`` passes (an optional constrained value)."""
    tests = [(name, limits[name]) for name in ("gt", "ge", "lt", "le", "pattern", "min_length")
             if name in limits]
    if not tests:
        return check
    search = re.compile(limits["pattern"]).search if "pattern" in limits else None

    def failure(name: str, limit: Any, value: Any) -> tuple[str, str] | None:
        if name in _BOUND_WORDS:
            ok = {"gt": value > limit, "ge": value >= limit, "lt": value < limit,
                  "le": value <= limit}[name]
            kind, text = _BOUND_WORDS[name]
            return None if ok else (kind, f"Input should be {text} {limit}")
        if name == "pattern":
            return None if search is not None and search(value) else (
                "string_pattern_mismatch", f"String should match pattern '{limit}'")
        if len(value) >= limit:
            return None
        if isinstance(value, str):
            return "string_too_short", f"String should have at least {limit} " \
                f"character{'s' if limit != 1 else ''}"
        return "too_short", f"List should have at least {limit} item{'s' if limit != 1 else ''} " \
            f"after validation, not {len(value)}"

    def checked(raw: Any, loc: Loc, errors: Errors) -> Any:
        value = check(raw, loc, errors)
        if value is FAIL or value is None:
            return value
        for name, limit in tests:
            problem = failure(name, limit, value)
            if problem is not None:
                return error(errors, problem[0], loc, problem[1], raw)
        return value
    return checked


_BOUND_WORDS = {"gt": ("greater_than", "greater than"),
                "ge": ("greater_than_equal", "greater than or equal to"),
                "lt": ("less_than", "less than"),
                "le": ("less_than_equal", "less than or equal to")}


#: JSON schema keyword of each constraint (``min_length`` of a list: ``minItems``)
SCHEMA_KEYWORDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum",
                   "le": "maximum", "pattern": "pattern", "min_length": "minLength"}

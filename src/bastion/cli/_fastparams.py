"""Parameter coercion without Pydantic for the plain types the CLI uses.

Typer >= 0.25 coerces every command-line value through a Pydantic ``TypeAdapter``: parsing the
first option of any command imports Pydantic (~60 ms) and builds an adapter per parameter
(~14 ms for the first), which is most of the start-up of ``bastion scan`` or ``bastion exec``.
Nearly every value Bastion's commands take is a ``str``, ``bool``, ``int``, ``Path`` or
``list[str]``; for those the common inputs (a string for a string, a bool for a flag, ASCII
digits for an int, a string for a path) are converted here exactly as the adapter would, and
anything else — an unusual spelling, a bound that fails, a type not listed — is handed to
Typer's own adapter, built on first use, so results and error messages stay Typer's.
``tests/cli/test_fast_params.py`` compares both paths for every parameter of every command.

:func:`install` replaces ``typer.core.build_runtime_param``; with a Typer that has no such
hook (older releases coerce through Click, without Pydantic) it does nothing.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SIMPLE = {str: "str", bool: "bool", int: "int", float: "float", Path: "path"}
_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def _kind(descriptor: Any) -> str | None:
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None:
        return None
    if getattr(info, "click_type", None) is not None:
        return None
    annotation = descriptor.annotation
    if annotation == list[str]:
        return "strs"
    optional = ""
    if isinstance(annotation, types.UnionType):  # X | None: None passes, the rest is X's
        inner = [a for a in annotation.__args__ if a is not type(None)]
        if len(inner) != 1 or len(annotation.__args__) != 2:
            return None
        annotation, optional = inner[0], "?"
    kind = _SIMPLE.get(annotation)
    if kind == "path" and getattr(info, "path_type", None) not in (None, Path):
        return None
    return kind + optional if kind else None


def _ascii_int(text: str) -> int | None:
    body = text[1:] if text[:1] in "+-" else text
    if body and body.isascii() and body.isdigit():
        return int(text)
    return None


def _decode(value: bytes) -> str:
    try:
        return value.decode(sys.getfilesystemencoding())
    except UnicodeError:
        return value.decode("utf-8", "replace")


def install() -> None:
    """Route plain parameter types through :class:`FastParam` (idempotent)."""
    try:
        import typer.core as core
        from typer._coercion import RuntimeParam
    except ImportError:
        return
    found = getattr(core, "build_runtime_param", None)
    if found is None or getattr(found, "_bastion_fast", False):
        return
    original: Callable[[Any], Any] = found

    @dataclass(frozen=True)
    class FastParam(RuntimeParam):  # type: ignore[misc]
        """Converts the common inputs itself; anything else goes to Typer's adapter."""

        kind: str
        descriptor: Any

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            done, result = self._fast(value, param, ctx)
            if done:
                return result
            return original(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

        def _fast(self, value: Any, param: Any, ctx: Any) -> tuple[bool, Any]:
            kind, info = self.kind.rstrip("?"), self.parameter_info
            if value is None and self.kind.endswith("?"):
                return True, None
            if kind == "float" and info.min is None and info.max is None:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return True, float(value)
                exact = isinstance(value, str) and _DECIMAL.fullmatch(value)
                return (True, float(value)) if exact else (False, None)
            if kind == "str" and isinstance(value, (str, bytes)):
                return True, _decode(value) if isinstance(value, bytes) else value
            if kind == "strs" and isinstance(value, (list, tuple)) \
                    and all(isinstance(v, str) for v in value):
                return True, list(value)
            if kind == "bool" and isinstance(value, bool):
                return True, value
            if kind == "int" and info.min is None and info.max is None:
                if isinstance(value, int) and not isinstance(value, bool):
                    return True, value
                number = _ascii_int(value) if isinstance(value, str) else None
                return (number is not None), number
            if kind == "path" and isinstance(value, str):
                from typer._param_types import coerce_cli_path

                return True, coerce_cli_path(Path(value), info, path_type=Path,
                                             param=param, ctx=ctx)
            return False, None

    def build(descriptor: Any) -> Any:
        kind = _kind(descriptor)
        if kind is None:
            return original(descriptor)
        return FastParam(parameter_info=descriptor.parameter_info,
                         annotation=descriptor.annotation, kind=kind, descriptor=descriptor)

    build._bastion_fast = True  # type: ignore[attr-defined]
    core.build_runtime_param = build

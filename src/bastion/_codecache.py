"""Compiled code for the methods ``@dataclass`` generates, written next to Bastion's byte-code.

The standard library builds a dataclass's ``__init__``, ``__repr__``, ``__eq__``… as source
text and compiles it with ``exec`` each time the class is defined, in every process: ~25 ms of
a ``bastion exec`` (the ~70 classes it loads), a sixth of its start-up. The text of each method
depends only on the class's fields, so it compiles to the same code every time.
``scripts/install.sh`` therefore runs :func:`write` once (after compiling the byte-code): it
imports every Bastion module, records each text the dataclass machinery executes with its
compiled code, and writes the tables (one per module) to
``__pycache__/dataclass-code.<cache tag>.marshal``.

:func:`install` (called first thing by ``bastion/__init__.py``) gives the ``dataclasses`` module
an ``exec`` of its own that runs the recorded code for a text it has and compiles anything else
as before. A stale or missing table costs nothing but the time it would have saved: the key is
the whole source text, so a changed class is simply not found. The file is as trusted as the
byte-code beside it (the same folder); it is only ever read at run time. Compiled exactly as
``exec`` compiles a string from the ``dataclasses`` module (no inherited ``__future__`` flags:
the annotations stay objects), which ``tests/test_codecache.py`` checks for every entry.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: the table: source text -> code object (for this interpreter's byte-code format)
TABLE = Path(__file__).with_name("__pycache__") / (
    f"dataclass-code.{sys.implementation.cache_tag}.marshal")

_Exec = Callable[..., Any]
#: module name -> {source text -> code}; on disk each module's table is marshalled on its own
#: (decoded when that module defines its first dataclass: a command decodes only its modules)
_Tables = dict[str, dict[str, types.CodeType]]


def _compile(source: str) -> types.CodeType:
    """What ``exec(source)`` compiles from inside ``dataclasses``: no ``__future__`` flags."""
    return compile(source, "<string>", "exec", dont_inherit=True)


def _module(globals: Any) -> str:
    return str(globals.get("__name__", "")) if isinstance(globals, dict) else ""


def _exec_reading(stored: dict[str, bytes]) -> _Exec:
    tables: _Tables = {}

    def exec_(source: Any, globals: Any = None, locals: Any = None) -> None:
        code = None
        if isinstance(source, str):
            module = _module(globals)
            table = tables.get(module)
            if table is None:
                table = tables[module] = _decoded(stored.get(module))
            code = table.get(source)
        builtins.exec(source if code is None else code, globals, locals)

    return exec_


def _decoded(blob: bytes | None) -> dict[str, types.CodeType]:
    if blob is None:
        return {}
    try:
        table = marshal.loads(blob)
    except (ValueError, EOFError, TypeError):
        return {}
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items()
            if isinstance(k, str) and isinstance(v, types.CodeType)}


def install() -> bool:
    """Use the table for the dataclasses defined from now on; False when there is none (or
    ``dataclasses`` already has an ``exec`` of its own: another tool's, left alone)."""
    if sys.implementation.cache_tag is None or "exec" in vars(dataclasses):
        return False
    try:
        stored = marshal.loads(TABLE.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return False
    if not isinstance(stored, dict):
        return False
    dataclasses.exec = _exec_reading(stored)  # type: ignore[attr-defined]
    return True


def _exec_recording(tables: _Tables) -> _Exec:
    def exec_(source: Any, globals: Any = None, locals: Any = None) -> None:
        code = None
        if isinstance(source, str):
            code = tables.setdefault(_module(globals), {}).setdefault(source, _compile(source))
        builtins.exec(source if code is None else code, globals, locals)

    return exec_


def write() -> int:
    """Import every Bastion module, recording the dataclass code; write the table. Returns
    the number of methods (an import that fails is skipped: its classes are compiled at run
    time as before)."""
    import importlib
    import pkgutil

    tables: _Tables = {}
    previous = vars(dataclasses).get("exec")
    dataclasses.exec = _exec_recording(tables)  # type: ignore[attr-defined]
    try:
        import bastion

        for info in pkgutil.walk_packages(bastion.__path__, "bastion."):
            if info.name.endswith(".__main__"):
                continue  # (importing it runs the CLI)
            try:
                importlib.import_module(info.name)
            except Exception:  # an optional component missing here
                continue
    finally:
        if previous is None:
            del dataclasses.exec  # type: ignore[attr-defined]
        else:
            dataclasses.exec = previous  # type: ignore[attr-defined]
    TABLE.parent.mkdir(exist_ok=True)
    tmp = TABLE.with_name(f"{TABLE.name}.{os.getpid()}.tmp")
    tmp.write_bytes(marshal.dumps({m: marshal.dumps(t) for m, t in tables.items()}))
    os.replace(tmp, TABLE)
    return sum(map(len, tables.values()))

"""The dataclass code table (bastion/_codecache.py) changes nothing but the time: every entry
is exactly what ``exec`` would compile, and every Bastion dataclass gets the same methods —
code, signature, annotations, behaviour — with the table as without it."""

from __future__ import annotations

import dataclasses
import json
import marshal
import os
import subprocess
import sys
import types

import pytest

from bastion import _codecache

_DESCRIBE = r"""
import builtins, dataclasses, hashlib, importlib, inspect, json, pkgutil, re, sys
if sys.argv[1] == "without":
    dataclasses.exec = builtins.exec  # _codecache.install() then leaves dataclasses alone
import bastion
from bastion import _codecache
out = {"active": "exec" in vars(dataclasses) and sys.argv[1] == "with"}
for info in pkgutil.walk_packages(bastion.__path__, "bastion."):
    if info.name.endswith(".__main__"):
        continue
    try:
        module = importlib.import_module(info.name)
    except Exception:
        continue
    for name, cls in sorted(vars(module).items()):
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)
                and cls.__module__ == info.name):
            continue
        methods = {}
        for m in ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__", "__hash__"):
            fn = cls.__dict__.get(m)
            code = getattr(fn, "__code__", None)
            if code is not None:
                methods[m] = [hashlib.sha256(code.co_code).hexdigest(), repr(code.co_consts),
                              code.co_names, repr(fn.__annotations__)]
        signature = re.sub(r" at 0x[0-9a-f]+", " at 0x…", str(inspect.signature(cls)))
        out[f"{info.name}.{name}"] = [signature, methods]
print(json.dumps(out, sort_keys=True))
"""


def _describe(mode: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", _DESCRIBE, mode], capture_output=True,
                          text=True, timeout=300, check=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"})  # (frozenset defaults)
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_every_dataclass_is_the_same_with_and_without_the_table() -> None:
    assert _codecache.TABLE.exists(), "scripts/install.sh writes the table"
    with_table, without = _describe("with"), _describe("without")
    assert with_table.pop("active") is True and without.pop("active") is False
    assert len(with_table) > 100
    assert with_table == without


def test_each_entry_is_what_exec_would_compile() -> None:
    stored = marshal.loads(_codecache.TABLE.read_bytes())
    count = 0
    for blob in stored.values():
        for source, code in marshal.loads(blob).items():
            assert isinstance(code, types.CodeType)
            assert code == compile(source, "<string>", "exec", dont_inherit=True)
            count += 1
    assert count > 500


def test_a_class_not_in_the_table_is_compiled_as_before() -> None:
    @dataclasses.dataclass(frozen=True)
    class Unlisted:
        """Defined here only: its methods cannot be in the table."""

        a: int
        b: str = "x"

    u = Unlisted(1)
    assert (u.a, u.b, u == Unlisted(1, "x"), repr(u)) == (
        1, "x", True, "test_a_class_not_in_the_table_is_compiled_as_before.<locals>."
        "Unlisted(a=1, b='x')")


def test_another_tools_exec_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    marker = object()
    monkeypatch.setattr(dataclasses, "exec", marker, raising=False)
    assert _codecache.install() is False
    assert vars(dataclasses)["exec"] is marker

"""cli/_fastparams.py converts plain parameter types exactly as Typer's own adapter does.

For every parameter of every command, the same inputs go through both paths; the result (or
the error message) must be identical. Inputs include the spellings the fast path hands over
(unusual integers, bytes, bools given as text) so the hand-over is covered too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer._coercion as coercion
import typer.core as core
from typer._click import Context

from bastion.cli.lazy import COMMANDS, load_command

SAMPLES: dict[Any, list[Any]] = {
    str: ["abc", "", "ünï ✓", b"bytes", b"\xff\xfe", 12],
    bool: [True, False, "true", "0", "maybe"],
    int: ["12", "-3", "+5", "012", " 7 ", "1_000", "1.0", "x", "٣", 7, True],
    float: ["1.5", "2", "x", " 3 ", "1e3", "inf", "-0.5", "+2.25", "1_0", "١", 4, 2.5, True],
    Path: ["x/y", "", "/tmp", "  sp ", Path("p")],
    list[str]: [("a", "b"), [], ["x"], "single", (b"x",)],
}
for _plain in (str, bool, int, float, Path):
    SAMPLES[_plain | None] = [None, *SAMPLES[_plain]]


def _params() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def walk(cmd: Any, path: str) -> None:
        for param in cmd.params:
            if getattr(param, "type_descriptor", None) is not None:
                found.append((f"{path} {param.name}", (cmd, param)))
        for name, child in (getattr(cmd, "commands", None) or {}).items():
            walk(child, f"{path} {name}")

    for name in COMMANDS:
        walk(load_command(name), name)
    return found


def _outcome(runtime: Any, value: Any, param: Any, ctx: Any) -> tuple[str, Any]:
    try:
        return "ok", runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # the error Typer would show
        return type(exc).__name__, str(getattr(exc, "message", exc))


def test_the_fast_path_is_installed() -> None:
    assert getattr(core.build_runtime_param, "_bastion_fast", False)


@pytest.mark.parametrize(("where", "pair"), _params(), ids=lambda x: x if isinstance(x, str) else "")
def test_fast_and_typer_coercion_agree(where: str, pair: tuple[Any, Any]) -> None:
    cmd, param = pair
    descriptor = param.type_descriptor
    fast = core.build_runtime_param(descriptor)
    typer_own = coercion.build_runtime_param(descriptor)
    ctx = Context(cmd)
    for value in SAMPLES.get(descriptor.annotation, ["x"]):
        assert _outcome(fast, value, param, ctx) == _outcome(typer_own, value, param, ctx), \
            (where, value)

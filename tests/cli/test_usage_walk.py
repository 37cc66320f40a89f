"""Every command, every subcommand: no arguments, --help and bad values never end in an
"internal error"; the exit status is one of the documented ones (0, 1 refused/failed, 2 usage,
3 paused).

Commands are discovered from the app itself (lazy groups included), so a new command is walked
without touching this file. Each invocation runs the real ``main()`` in a forked child (fast:
the CLI is imported once) with stdin at /dev/null and a fresh BASTION_HOME.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forkrun import run_all

DOCUMENTED = {0, 1, 2, 3}


def _click_group(app: Any) -> Any:
    import typer.main

    return typer.main.get_command(app)


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    list_commands = getattr(command, "list_commands", None)
    if list_commands is None:
        return
    ctx = command.make_context("bastion", [], resilient_parsing=True)
    for name in list_commands(ctx):
        sub = command.get_command(ctx, name)
        real = getattr(command, "real_command", None)  # a lazy group's placeholder → real one
        if real is not None and type(sub).__name__ == "_Placeholder":
            sub = real(name)
        if sub is not None and not getattr(sub, "hidden", False):
            yield from _walk(sub, (*path, name))


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    from bastion.cli._app import app

    return list(_walk(_click_group(app)))


def _bad_invocations(path: tuple[str, ...], command: Any) -> list[list[str]]:
    """Argument lists that are usage mistakes for ``command`` (exit 2 expected)."""
    cases = [[*path, "--no-such-option"]]
    if getattr(command, "list_commands", None) is not None:
        cases.append([*path, "no-such-subcommand"])
        return cases
    for param in command.params:
        if param.param_type_name != "option" or param.is_flag or not param.opts:
            continue
        flag = param.opts[0]
        cases.append([*path, flag])  # an option missing its value
        if _numeric(param):
            cases.append([*path, flag, "not-a-number"])
    return cases


def _numeric(param: Any) -> bool:
    """An int or float option (click's ``type`` or typer's own ``type_descriptor``)."""
    kind = getattr(getattr(param, "type", None), "name", "")
    if kind in ("integer", "float", "integer range", "float range"):
        return True
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation in (int, float):
        return True
    members = set(typing.get_args(annotation)) - {type(None)}
    return bool(members) and members <= {int, float}


def _negative_numbers(path: tuple[str, ...], command: Any) -> list[list[str]]:
    """``--n -1`` for every numeric option: refused or accepted, but never a crash."""
    return [[*path, p.opts[0], "-1"] for p in getattr(command, "params", [])
            if p.param_type_name == "option" and not p.is_flag and p.opts and _numeric(p)]


def _needs_arguments(command: Any) -> bool:
    if getattr(command, "list_commands", None) is not None:
        return True
    return any(p.required for p in command.params)


def _run_main(argv: list[str], home: Path, out_dir: Path) -> tuple[int, str]:
    return run_all([argv], home, out_dir)[0]


@pytest.fixture(scope="module")
def walk_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tmp_path_factory.mktemp("walk-home"), tmp_path_factory.mktemp("walk-out")


def test_the_walk_finds_the_documented_commands() -> None:
    names = {" ".join(path) for path, _ in _commands()}
    for expected in ("run", "chat", "sessions list", "keys rotate", "audit verify", "undo",
                     "export", "delete", "doctor", "config set"):
        assert expected in names, f"{expected!r} not discovered (found {sorted(names)})"


def test_no_command_ends_in_an_internal_error(walk_dirs: tuple[Path, Path]) -> None:
    home, out_dir = walk_dirs
    cases: list[tuple[list[str], set[int]]] = []
    for path, command in _commands():
        cases.append(([*path, "--help"], {0}))
        if _needs_arguments(command) or not path:
            cases.append((list(path), {1, 2}))  # a missing task may be "nothing on stdin" (1)
        cases += [(argv, {2}) for argv in _bad_invocations(path, command)]
        cases += [(argv, DOCUMENTED) for argv in _negative_numbers(path, command)]
    assert len(cases) > 40
    problems: list[str] = []
    results = run_all([argv for argv, _ in cases], home, out_dir)
    for (argv, allowed), (code, output) in zip(cases, results, strict=True):
        if "internal error" in output.lower() or "Traceback" in output:
            problems.append(f"bastion {' '.join(argv)} → internal error:\n{output[-600:]}")
        elif code not in allowed:
            problems.append(f"bastion {' '.join(argv)} → exit {code} (allowed {allowed}):\n"
                            f"{output[-400:]}")
    assert not problems, "\n\n".join(problems)


def test_usage_errors_show_the_usage(walk_dirs: tuple[Path, Path]) -> None:
    home, out_dir = walk_dirs
    code, output = _run_main(["run"], home, out_dir)
    assert code == 2
    assert "Usage:" in output
    code, output = _run_main(["run", "x", "--mode", "bogus"], home, out_dir)
    assert code == 2 and "bogus" in output and "internal error" not in output
    code, output = _run_main(["run", "x", "--max-steps", "-1"], home, out_dir)
    assert code == 2 and "internal error" not in output

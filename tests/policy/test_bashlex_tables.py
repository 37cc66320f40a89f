"""The saved bashlex tables (policy/_bashlex_tables.json) are exactly what bashlex builds.

The tables decide how the policy reads every command, so the copy is checked against a fresh
build of the installed bashlex, the import is checked to use it, and a copy that does not
fit the grammar is checked to be ignored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

from bastion.policy import _bashlex_tables as tables

_IMPORT = ("from bastion.policy import _bashlex_tables as t\n"
           "import bashlex\n"
           "b = t.import_bashlex()\n"
           "print(t.used_saved)\n"
           "print(b.parse({cmd!r})[0].dump())\n")
COMMANDS = ["ls -la | grep foo && echo $(cat x) > out.txt",
            "for f in *.py; do python -m py_compile \"$f\" || exit 1; done",
            "a=1 b='two' env -i sh -c 'echo $a' 2>&1 >/dev/null & wait"]


def test_saved_tables_equal_a_fresh_build() -> None:
    saved = json.loads(resources.files("bastion.policy").joinpath(tables.TABLES).read_bytes())
    built = tables.built_tables()
    assert saved["digest"] == built["digest"], (
        "bashlex's grammar changed: run python -c 'from bastion.policy._bashlex_tables "
        "import write_tables as w; w()'")
    assert {int(k): v for k, v in saved["action"].items()} == built["action"]
    assert {int(k): v for k, v in saved["goto"].items()} == built["goto"]


def _fresh(code: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    return proc.stdout.splitlines()


def test_import_uses_the_saved_tables_and_parses_like_bashlex() -> None:
    for cmd in COMMANDS:
        ours = _fresh(_IMPORT.replace("import bashlex\n", "").format(cmd=cmd))
        plain = _fresh(f"import bashlex\nprint([])\nprint(bashlex.parse({cmd!r})[0].dump())\n")
        assert ours[0] == "[True]"
        assert ours[1:] == plain[1:], cmd


def test_a_copy_that_does_not_fit_the_grammar_is_ignored() -> None:
    code = ("from bastion.policy import _bashlex_tables as t\n"
            "t._load = lambda: {'digest': '0' * 64, 'action': {}, 'goto': {}}\n"
            "b = t.import_bashlex()\n"
            "print(t.used_saved)\n"
            f"print(b.parse({COMMANDS[0]!r})[0].dump())\n")
    out = _fresh(code)
    plain = _fresh(f"import bashlex\nprint(bashlex.parse({COMMANDS[0]!r})[0].dump())\n")
    assert out[0] == "[False]" and out[1:] == plain

"""bashlex with its LALR tables read from a checked copy instead of rebuilt at every import.

bashlex 0.18 bundles a PLY ``yacc`` that cannot read saved tables: importing it computes the
shell grammar's LALR(1) action and goto tables from scratch (~180 ms on this machine), which
every run paid at its first command. The tables depend only on the grammar, so
``_bashlex_tables.json`` holds them with the SHA-256 of the grammar they were built from
(productions, precedence, start symbol). :func:`import_bashlex` uses them only when the
installed bashlex's grammar has that digest — any other bashlex builds its tables as before —
and ``tests/policy/test_bashlex_tables.py`` checks that the copy equals a fresh build.
The copy is package data, not a user-writable cache: the tables decide how the policy reads
commands, and whoever can change the package can change the policy itself.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

TABLES = "_bashlex_tables.json"
#: one entry per table made by :func:`import_bashlex`: True when the saved copy was used
used_saved: list[bool] = []


def grammar_digest(grammar: Any) -> str:
    """SHA-256 over what the LALR tables are computed from."""
    parts = [str(p) for p in grammar.Productions]
    parts.append(repr(sorted(grammar.Precedence.items())))
    parts.append(repr(grammar.Start))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _load() -> dict[str, Any] | None:
    try:
        data = json.loads(resources.files(__package__).joinpath(TABLES).read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _as_tables(raw: dict[str, dict[str, int]]) -> dict[int, dict[str, int]]:
    return {int(state): dict(row) for state, row in raw.items()}


def import_bashlex() -> ModuleType:
    """``import bashlex``, with the saved tables when they fit the installed grammar.

    The package's ``__init__`` builds the parser, so the package module is made first without
    running it, ``bashlex.yacc`` is imported into it and patched, then ``__init__`` runs."""
    if "bashlex" in sys.modules:
        return sys.modules["bashlex"]
    spec = importlib.util.find_spec("bashlex")
    if spec is None or spec.loader is None:
        raise ImportError("bashlex is not installed")
    package = importlib.util.module_from_spec(spec)
    sys.modules["bashlex"] = package
    try:
        yacc: Any = importlib.import_module("bashlex.yacc")
        original = yacc.LRTable
        yacc.LRTable = _saved_table_class(yacc, original, _load())
        try:
            spec.loader.exec_module(package)
        finally:
            yacc.LRTable = original
    except BaseException:
        for name in [n for n in sys.modules if n == "bashlex" or n.startswith("bashlex.")]:
            del sys.modules[name]
        raise
    return package


def _saved_table_class(yacc: ModuleType, original: Any, saved: dict[str, Any] | None) -> Any:
    class SavedTable(original):  # type: ignore[misc,valid-type]
        def __init__(self, grammar: Any, log: Any = None) -> None:
            if saved is None or saved.get("digest") != grammar_digest(grammar):
                used_saved.append(False)
                super().__init__(grammar, log)
                return
            used_saved.append(True)
            self.grammar = grammar
            self.log = log or yacc.NullLogger()
            self.lr_action = _as_tables(saved["action"])
            self.lr_goto = _as_tables(saved["goto"])
            self.lr_productions = grammar.Productions
            self.lr_goto_cache: dict[Any, Any] = {}
            self.lr0_cidhash: dict[Any, Any] = {}
            self._add_count = 0
            self.sr_conflict = self.rr_conflict = 0
            self.conflicts: list[Any] = []
            self.sr_conflicts: list[Any] = []
            self.rr_conflicts: list[Any] = []

    return SavedTable


def built_tables() -> dict[str, Any]:
    """The tables as the installed bashlex computes them (slow; for the test and rebuilds)."""
    from bashlex import parser, yacc

    captured: dict[str, Any] = {}
    original = yacc.LRTable

    class Capture(original):  # type: ignore[misc,valid-type]
        def __init__(self, grammar: Any, log: Any = None) -> None:
            super().__init__(grammar, log)
            captured.update(digest=grammar_digest(grammar), action=self.lr_action,
                            goto=self.lr_goto)

    yacc.LRTable = Capture
    try:
        yacc.yacc(module=parser, debug=False, write_tables=False, check_recursion=False,
                  errorlog=yacc.NullLogger())
    finally:
        yacc.LRTable = original
    return captured


def write_tables() -> Path:
    """Rewrite :data:`TABLES` from the installed bashlex (after a bashlex upgrade)."""
    tables = built_tables()
    text = json.dumps({"digest": tables["digest"],
                       "action": {str(k): v for k, v in tables["action"].items()},
                       "goto": {str(k): v for k, v in tables["goto"].items()}},
                      sort_keys=True, separators=(",", ":"))
    target = Path(__file__).with_name(TABLES)
    target.write_text(text + "\n", encoding="utf-8")
    return target

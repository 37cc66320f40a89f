"""Shell command analysis: split a command line into the simple commands it would run.

``analyse`` parses with bashlex and walks the tree: lists (``;``, ``&&``, ``||``, ``&``),
pipelines, subshells and brace groups, ``if``/``for``/``while`` bodies, command substitution
and redirections. Anything it cannot see through — a parse error, ``eval``/``source``/``sh -c``,
process substitution, a function definition, a variable or substitution in command position,
a redirection target that is computed — makes the analysis *unanalysable*, and such a
command is never allowed by a rule (at most asked). Deny rules still apply to every segment
that was found.

Rules (``RunCommand(git status)``, ``Bash(npm test:*)``) match one segment at a time:
a plain specifier is the exact word list, ``PREFIX:*`` is that word list followed by anything,
and a specifier with other glob characters is matched against the segment's words joined by
spaces. A command is allowed only when *every* segment is allowed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

Verdict = Literal["allow", "ask", "deny"]

#: commands whose arguments are themselves code: we cannot see what they will run
OPAQUE_COMMANDS = frozenset({"eval", "source", ".", "exec", "trap", "alias", "coproc"})
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "busybox"})
WRITE_REDIRECTS = frozenset({">", ">>", ">|", "<>", "&>", "&>>", ">&"})
READ_REDIRECTS = frozenset({"<", "<>"})
MAX_COMMAND_CHARS = 100_000


@dataclass
class Analysis:
    """A command line taken apart: its simple commands and the paths it redirects."""

    segments: list[list[str]] = field(default_factory=list)
    #: paths the command writes through redirections (checked like writes)
    redirect_targets: list[str] = field(default_factory=list)
    #: paths the command reads through ``<`` redirections
    read_targets: list[str] = field(default_factory=list)
    #: why the command could not be fully analysed; None when it could
    unanalysable: str | None = None


class _Unanalysable(Exception):
    pass


class _Walker:
    def __init__(self) -> None:
        self.result = Analysis()

    def node(self, n: Any) -> None:
        kind = n.kind
        if kind in ("list", "pipeline"):
            for part in n.parts:
                if part.kind not in ("operator", "pipe"):
                    self.node(part)
        elif kind == "compound":
            for part in n.list:
                if part.kind != "reservedword":
                    self.node(part)
            for r in getattr(n, "redirects", []):
                self.redirect(r)
        elif kind in ("if", "while", "until"):
            for part in n.parts:
                if part.kind != "reservedword":
                    self.node(part)
        elif kind == "for":
            for part in n.parts:
                if part.kind == "word":
                    self.word_substitutions(part)
                elif part.kind != "reservedword":
                    self.node(part)
        elif kind == "command":
            self.command(n)
        elif kind == "function":
            raise _Unanalysable("defines a shell function")
        else:
            raise _Unanalysable(f"unsupported shell construct ({kind})")

    def word_substitutions(self, w: Any) -> None:
        """Command substitutions inside a word are segments of their own."""
        for part in getattr(w, "parts", []):
            if part.kind == "commandsubstitution":
                self.node(part.command)
            elif part.kind == "processsubstitution":
                raise _Unanalysable("uses process substitution")
            elif part.kind in ("parameter", "tilde"):
                continue
            else:
                raise _Unanalysable(f"unsupported expansion ({part.kind})")

    def redirect(self, r: Any) -> None:
        rtype = r.type
        target = r.output
        if rtype in ("<<", "<<-", "<<<"):
            if rtype == "<<<" and hasattr(target, "parts"):
                self.word_substitutions(target)
            return  # here-documents and here-strings are data
        if isinstance(target, int):
            return  # fd duplication such as 2>&1
        if getattr(target, "parts", None):
            raise _Unanalysable(f"redirection target {target.word!r} is computed")
        if rtype in WRITE_REDIRECTS:
            self.result.redirect_targets.append(target.word)
        if rtype in READ_REDIRECTS:
            self.result.read_targets.append(target.word)
        if rtype not in WRITE_REDIRECTS and rtype not in READ_REDIRECTS:
            raise _Unanalysable(f"unsupported redirection {rtype!r}")

    def command(self, n: Any) -> None:
        words: list[str] = []
        have_command = False
        for part in n.parts:
            if part.kind == "assignment":
                self.word_substitutions(part)
                words.append(part.word)  # kept: FOO=x changes what the command does
            elif part.kind == "word":
                if not have_command:
                    have_command = True
                    if getattr(part, "parts", None):
                        raise _Unanalysable(
                            f"the command name {part.word!r} is computed at run time")
                    name = part.word.rsplit("/", 1)[-1]
                    if name in OPAQUE_COMMANDS:
                        raise _Unanalysable(f"{part.word!r} runs code that cannot be analysed")
                else:
                    self.word_substitutions(part)
                words.append(part.word)
            elif part.kind == "redirect":
                self.redirect(part)
            else:
                raise _Unanalysable(f"unsupported command part ({part.kind})")
        cmd_words = [w for w in words if not _is_assignment(w)]
        if cmd_words and cmd_words[0].rsplit("/", 1)[-1] in SHELLS and any(
                w == "-c" or (w.startswith("-") and not w.startswith("--") and "c" in w)
                for w in cmd_words[1:]):
            raise _Unanalysable(f"{cmd_words[0]} -c runs a command string")
        if words:
            self.result.segments.append(words)


_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\+?=")


def _is_assignment(word: str) -> bool:
    return bool(_ASSIGN.match(word))


def analyse(command: str) -> Analysis:
    """Split ``command`` into segments; never raises (failures set ``unanalysable``)."""
    if len(command) > MAX_COMMAND_CHARS:
        return Analysis(unanalysable="command too long to analyse")
    if "\x00" in command:
        return Analysis(unanalysable="command contains a NUL byte")
    from ._bashlex_tables import import_bashlex

    import_bashlex()  # loaded when a command is first analysed, with its saved parser tables
    import bashlex
    import bashlex.errors

    walker = _Walker()
    try:
        trees = bashlex.parse(command)
        for tree in trees:
            walker.node(tree)
    except _Unanalysable as exc:
        walker.result.unanalysable = str(exc)
    except (bashlex.errors.ParsingError, NotImplementedError, AttributeError,
            IndexError, TypeError, ValueError, RecursionError) as exc:
        walker.result.unanalysable = f"cannot parse the command ({type(exc).__name__}: {exc})"
    if not walker.result.segments and walker.result.unanalysable is None:
        walker.result.unanalysable = "no command found"
    return walker.result


# ---------------------------------------------------------------- rules

_RULE = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$", re.S)
COMMAND_RULE_TOOLS = frozenset({"runcommand", "run_command", "bash", "shell"})


def rule_specifier(rule: str) -> str | None:
    """``RunCommand(git status)`` -> ``git status``; ``Bash`` -> ``*``; other tools -> None."""
    m = _RULE.match(rule)
    if m:
        return m.group(2).strip() if m.group(1).lower() in COMMAND_RULE_TOOLS else None
    if rule.strip().lower() in COMMAND_RULE_TOOLS or rule.strip() == "*":
        return "*"
    return rule.strip()  # a bare specifier


def match_command_rule(rule_specifier: str, segment: list[str]) -> bool:
    """Whether one segment (its words) matches a rule specifier."""
    spec = rule_specifier.strip()
    if spec in ("", "*"):
        return True
    prefix = spec.endswith(":*")
    body = spec[:-2] if prefix else spec
    try:
        tokens = shlex.split(body)
    except ValueError:
        return False
    if prefix:
        return segment[:len(tokens)] == tokens
    if any(c in body for c in "*?["):
        return fnmatchcase(" ".join(segment), body)
    return segment == tokens


def _first_match(rules: Iterable[str], segment: list[str]) -> str | None:
    for rule in rules:
        spec = rule_specifier(rule)
        if spec is not None and match_command_rule(spec, segment):
            return rule
    return None


def decide_command(analysis: Analysis, allow_rules: Iterable[str], ask_rules: Iterable[str],
                   deny_rules: Iterable[str], *,
                   path_verdict: Callable[[str], Verdict] | None = None,
                   ) -> tuple[Verdict, str | None]:
    """The verdict for a whole command and the rule (or reason) that decided it.

    Deny wins (any segment, any redirection the policy denies); an unanalysable command is
    at most "ask"; "allow" needs every segment allowed and no ask rule matching.
    """
    allow_rules, ask_rules, deny_rules = list(allow_rules), list(ask_rules), list(deny_rules)
    for seg in analysis.segments:
        rule = _first_match(deny_rules, seg)
        if rule is not None:
            return "deny", rule
    if path_verdict is not None:
        for target in analysis.redirect_targets:
            v = path_verdict(target)
            if v == "deny":
                return "deny", f"redirection to {target}"
    if analysis.unanalysable is not None:
        return "ask", f"unanalysable: {analysis.unanalysable}"
    if path_verdict is not None:
        for target in analysis.redirect_targets:
            if path_verdict(target) == "ask":
                return "ask", f"redirection to {target}"
    allowed_by: list[str] = []
    for seg in analysis.segments:
        rule = _first_match(ask_rules, seg)
        if rule is not None:
            return "ask", rule
        rule = _first_match(allow_rules, seg)
        if rule is None:
            return "ask", None
        allowed_by.append(rule)
    if not allowed_by:
        return "ask", None
    return "allow", ", ".join(dict.fromkeys(allowed_by))

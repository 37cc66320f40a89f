"""Permission rules: ``Tool`` or ``Tool(specifier)`` strings from ``permissions.allow|ask|deny``.

Rule tool names are either a built-in tool name (``write_file``) or a family:

- ``Read`` — ``read_file``, ``list_dir``, ``glob``, ``grep``
- ``Write`` / ``Edit`` — every mutating file tool (``write_file``, ``edit_file``,
  ``delete_file``, ``move_file``)
- ``Delete`` / ``Move`` — ``delete_file`` / ``move_file``
- ``RunCommand`` / ``Bash`` / ``Shell`` — ``run_command``; ``Fetch`` / ``WebFetch`` — ``fetch_url``
- ``*`` — every tool

For file tools the specifier is a path pattern (:mod:`bastion.policy.patterns`); for other
tools it is a glob over the tool's target string (a command line, a URL); a trailing ``:*``
(``Bash(npm test:*)``) means "this prefix followed by anything". No specifier matches every
call of that tool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from .patterns import PathPattern, PatternError

Verdict = Literal["allow", "ask", "deny"]

READ_TOOLS = frozenset({"read_file", "list_dir", "glob", "grep"})
WRITE_TOOLS = frozenset({"write_file", "edit_file", "delete_file", "move_file"})
FILE_TOOLS = READ_TOOLS | WRITE_TOOLS
FETCH_TOOLS = frozenset({"fetch_url"})
#: every tool name a rule may name besides the families and ``mcp__server__tool`` globs
BUILTIN_TOOLS = FILE_TOOLS | FETCH_TOOLS | frozenset({"run_command", "delegate"})

FAMILIES: dict[str, frozenset[str]] = {
    "read": READ_TOOLS,
    "write": WRITE_TOOLS,
    "edit": WRITE_TOOLS,
    "delete": frozenset({"delete_file"}),
    "move": frozenset({"move_file"}),
    "bash": frozenset({"run_command"}),
    "runcommand": frozenset({"run_command"}),
    "shell": frozenset({"run_command"}),
    "fetch": frozenset({"fetch_url"}),
    "webfetch": frozenset({"fetch_url"}),
}

_RULE = re.compile(r"^\s*([A-Za-z_*][\w*.\-]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)


class RuleError(ValueError):
    """A rule string that does not parse; the message names the rule."""


@dataclass(frozen=True)
class Rule:
    """One parsed rule, remembering where it came from for explanations and the audit log."""

    text: str
    verdict: Verdict
    tool: str
    specifier: str | None
    source: str
    path_pattern: PathPattern | None = None

    @classmethod
    def parse(cls, text: str, verdict: Verdict, source: str, workspace: Path,
              home: Path | None = None) -> Rule:
        m = _RULE.match(text)
        if not m:
            raise RuleError(f"rule {text!r} ({source}): expected Tool or Tool(specifier)")
        tool, spec = m.group(1), m.group(2)
        if not known_tool(tool):
            raise RuleError(f"rule {text!r} ({source}): unknown tool or rule family {tool!r}; "
                            "expected one of Read, Write, Edit, Delete, Move, Bash, Shell, "
                            "RunCommand, Fetch, WebFetch, *, a built-in tool name or "
                            "mcp__server__tool")
        if spec is not None:
            spec = spec.strip()
            if not spec:
                raise RuleError(f"rule {text!r} ({source}): empty specifier; write {tool}")
            if _tools_of(tool) <= FETCH_TOOLS and spec.startswith("domain:") and \
                    not spec.removeprefix("domain:").strip():
                raise RuleError(f"rule {text!r} ({source}): domain: needs a host name")
        pattern = None
        if spec is not None and _tools_of(tool) <= FILE_TOOLS:
            try:
                pattern = PathPattern.compile(spec, workspace, home)
            except PatternError as exc:
                raise RuleError(f"rule {text!r} ({source}): {exc}") from None
        return cls(text.strip(), verdict, tool, spec, source, pattern)

    def applies_to(self, tool: str) -> bool:
        return tool in _tools_of(self.tool) or self.tool == "*"

    def matches(self, tool: str, target: Path | str) -> bool:
        if not self.applies_to(tool):
            return False
        if self.specifier is None:
            return True
        if isinstance(target, Path):
            if self.path_pattern is None:
                return False
            return self.path_pattern.matches(target)
        if tool in FETCH_TOOLS and _is_domain_spec(self.specifier):
            return _host_matches(self.specifier.removeprefix("domain:"), target)
        glob = self.specifier[:-2] + "*" if self.specifier.endswith(":*") else self.specifier
        return fnmatchcase(target, glob)

    def describe(self) -> str:
        return f"{self.verdict} {self.text} ({self.source})"


def known_tool(name: str) -> bool:
    """A name a rule may use: a family (any case), ``*``, a built-in tool, an MCP tool glob."""
    return (name == "*" or name.lower() in FAMILIES or name in BUILTIN_TOOLS
            or (name.startswith("mcp__") and len(name) > len("mcp__")))


def _is_domain_spec(spec: str) -> bool:
    """``domain:HOST`` or a bare host pattern (no scheme, no path) names a host."""
    return spec.startswith("domain:") or ("/" not in spec and ":" not in spec)


def _host_matches(pattern: str, url: str) -> bool:
    """The URL's host against a host glob (``example.com``, ``*.example.com``), any case."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return False
    return host is not None and fnmatchcase(host.lower(), pattern.strip().lower().rstrip("."))


def _tools_of(name: str) -> frozenset[str]:
    if name == "*":
        return FILE_TOOLS | {"run_command", "fetch_url"}
    # Family names never contain '_', built-in tool names always do, so they cannot clash.
    return FAMILIES.get(name.lower(), frozenset({name}))

def fallback_for(tool: str) -> Verdict:
    """The verdict for a non-path call no rule matches: a command or an MCP call is asked
    (Bastion cannot see what it changes), a fetch or a delegation is allowed (the gateway and
    the member's own policy police them)."""
    return "ask" if tool == "run_command" or tool.startswith("mcp__") else "allow"


def access_of(tool: str) -> Literal["read", "write", "other"]:
    if tool in READ_TOOLS:
        return "read"
    if tool in WRITE_TOOLS:
        return "write"
    return "other"

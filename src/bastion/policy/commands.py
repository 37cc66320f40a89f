"""Decisions for targets that are not paths: command lines (per simple command), URLs, MCP calls.

``run_command`` is decided per simple command (:mod:`bastion.policy.shell`): deny rules are
checked against every segment (and the whole line); a command that cannot be fully analysed
is at most asked; redirection targets are decided like writes (``<`` like reads); "allow"
needs every segment allowed by a rule. ``Bash(git status:*)`` therefore never allows
``git status && rm -rf ~``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import shell
from .decision import Decision
from .rules import Rule, Verdict

if TYPE_CHECKING:
    from .grants import Access


class CommandDecisions:
    """Mixin of :class:`~bastion.policy.Policy`: commands and other non-path targets."""

    if TYPE_CHECKING:
        rules: list[Rule]
        mode: str

        def _decide_core(self, tool: str, target: str | Path, access: Access | None,
                         fallback: Verdict | None) -> Decision: ...

    def _command_rule(self, verdict: str, segment: list[str]) -> Rule | None:
        """The first ``verdict`` rule for run_command that matches one simple command."""
        for rule in self.rules:
            if rule.verdict == verdict and rule.applies_to("run_command") and (
                    rule.specifier is None or shell.match_command_rule(rule.specifier, segment)):
                return rule
        return None

    def _line_rule(self, verdict: str, line: str) -> Rule | None:
        """The first ``verdict`` rule whose glob matches the whole line (deny and ask only:
        a rule written for whole lines keeps tightening; it never allows)."""
        for rule in self.rules:
            if rule.verdict == verdict and rule.matches("run_command", line):
                return rule
        return None

    def _redirections(self, analysis: shell.Analysis) -> Decision | list[Decision]:
        """A deny for the first denied redirection target, else the asks among them."""
        asks: list[Decision] = []
        targets = [("write_file", t) for t in analysis.redirect_targets] + \
                  [("read_file", t) for t in analysis.read_targets]
        for tool, target in targets:
            d = self._decide_core(tool, target, None, None)
            if d.verdict == "deny":
                return Decision("deny", d.rule, f"redirection {target}: {d.reason}")
            if d.verdict == "ask":
                asks.append(Decision("ask", d.rule, f"redirection {target}: {d.reason}",
                                     outside=d.outside))
        return asks

    def _decide_command(self, command: str, fallback: Verdict | None) -> Decision:
        """A command line: every simple command in it and every redirection (see module doc)."""
        analysis = shell.analyse(command)

        def by_rule(rule: Rule, what: str) -> Decision:
            return Decision(rule.verdict, rule.describe(),
                            f"rule {rule.text} ({rule.source}) matches {what!r}")

        rule = self._line_rule("deny", command)
        if rule is not None:
            return by_rule(rule, command)
        for seg in analysis.segments:
            rule = self._command_rule("deny", seg)
            if rule is not None:
                return by_rule(rule, " ".join(seg))
        asks = self._redirections(analysis)
        if isinstance(asks, Decision):
            return asks
        if self.mode == "restricted":
            return Decision("deny", "mode:restricted", "restricted mode runs no commands")
        if analysis.unanalysable is not None:
            return Decision("ask", "unanalysable",
                            f"the command cannot be fully analysed ({analysis.unanalysable}); "
                            "no rule can allow it", outside=any(a.outside for a in asks))
        if asks:
            return next((a for a in asks if a.outside), asks[0])
        rule = self._line_rule("ask", command)
        if rule is not None:
            return by_rule(rule, command)
        for seg in analysis.segments:
            rule = self._command_rule("ask", seg)
            if rule is not None:
                return by_rule(rule, " ".join(seg))
        if self.mode == "strict":
            return Decision("ask", "mode:strict", "strict mode asks before every action")
        allowed_by: list[str] = []
        for seg in analysis.segments:
            rule = self._command_rule("allow", seg)
            if rule is not None:
                allowed_by.append(rule.describe())
            elif (fallback or "ask") == "allow":
                allowed_by.append("default")
            else:
                return Decision(fallback or "ask", "default",
                                f"no rule allows {' '.join(seg)!r}")
        return Decision("allow", ", ".join(dict.fromkeys(allowed_by)),
                        "every part of the command is allowed")

    def _decide_other(self, tool: str, target: str, fallback: Verdict | None) -> Decision:
        """A URL, an MCP call, a delegation: rules deny → ask → allow, then the mode."""
        for verdict in ("deny", "ask", "allow"):
            for rule in self.rules:
                if rule.verdict == verdict and rule.matches(tool, target):
                    if verdict == "allow" and self.mode == "strict":
                        continue
                    return Decision(rule.verdict, rule.describe(),
                                    f"rule {rule.text} ({rule.source})")
        if self.mode == "restricted":
            return Decision("deny", "mode:restricted", "restricted mode allows only reading")
        if self.mode == "strict":
            return Decision("ask", "mode:strict", "strict mode asks before every action")
        return Decision(fallback or "allow", "default", "no rule matched")

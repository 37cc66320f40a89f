"""Amendments: an "always" answer at a terminal becomes an allow rule in the *user* settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .rules import Rule

if TYPE_CHECKING:
    from .policy import Policy


class Amendments:
    """Mixin of :class:`~bastion.policy.Policy`: the rule "always" adds, and adding it."""

    if TYPE_CHECKING:
        workspace: Path
        home: Path | None
        rules: list[Rule]
        user_settings_path: Path | None
        _parent: Policy | None

    def _always_rule(self, tool: str, family: str, subject: Path | str) -> str | None:
        if self.user_settings_path is None:
            return None
        if isinstance(subject, Path):
            name = "Write" if family == "write" else "Read"
            return f"{name}(//{str(subject).lstrip('/')})"
        return f"{tool}({subject})"

    def _persist_allow(self, rule_text: str) -> None:
        from bastion.config import read_settings_json, write_settings_json

        assert self.user_settings_path is not None
        data = read_settings_json(self.user_settings_path)
        perms = data.setdefault("permissions", {})
        allow = perms.setdefault("allow", [])
        if rule_text not in allow:
            allow.append(rule_text)
            write_settings_json(self.user_settings_path, data)
        rule = Rule.parse(rule_text, "allow", "user settings (always)", self.workspace,
                          self.home)
        policy: Amendments | None = self
        while policy is not None:  # the user's answer holds for the whole session
            policy.rules.append(rule)
            policy = policy._parent

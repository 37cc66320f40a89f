"""Building a :class:`Policy` from the user's settings, the project's settings and CLI flags.

Only the user (their settings file, CLI flags, approvals) can widen access. A project's
``.bastion/settings.json`` contributes, until trusted, only what tightens: deny / ask /
denyRead rules, ``securityMode: true``, and read-only downgrades of folders the user already
granted. After ``bastion trust`` its allow rules and folder grants apply too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bastion.config import (
    Settings,
    SettingsError,
    constrain_project,
    layers_of,
    parse_settings,
    read_settings_json,
    settings_path,
)

from .approval import Approver
from .decision import DecisionHook
from .paths import is_within
from .policy import ApproveMode, Grant, Mode, Policy
from .rules import Rule, RuleError, Verdict
from .trust import PROJECT_DIR, TrustStore


def _grant_path(raw: str, base: Path) -> Path:
    text = os.path.expanduser(raw)
    return Path(os.path.realpath(text if os.path.isabs(text) else base / text))


def _source(settings: Settings | None, key: str, entry: Any, default: str) -> str:
    """The layer that contributed a list entry ("managed settings …", "role …")."""
    layers = layers_of(settings) if settings is not None else None
    origin = layers.entry_origin(key, entry) if layers is not None else "user"
    if origin == "user" or layers is None or layers.managed_path is None:
        return default
    label = f"role {origin[5:]}" if origin.startswith("role:") else f"{origin} settings"
    return f"{label} {layers.managed_path}"


def _rules(perms: Any, source: str, workspace: Path, home: Path,
           verdicts: tuple[Verdict, ...], file: Path | None = None,
           settings: Settings | None = None) -> list[Rule]:
    """The rules of one settings file; a bad one is a settings error naming file and key.
    With the merged ``settings``, each rule names the layer it came from (managed, role)."""
    out = []
    layers = layers_of(settings) if settings is not None else None
    for verdict in verdicts:
        for i, text in enumerate(getattr(perms, verdict)):
            src = _source(settings, f"permissions.{verdict}", text, source)
            origin = layers.managed_path if layers is not None and src != source else file
            try:
                out.append(Rule.parse(text, verdict, src, workspace, home))
            except RuleError as exc:
                where = f"{origin}: " if origin is not None else ""
                raise SettingsError(f"{where}key 'permissions.{verdict}[{i}]': {exc}",
                                    hint="fix the rule or remove it") from None
    return out


def validate_rules(settings: Settings, file: Path, workspace: Path | None = None) -> None:
    """Every rule in ``settings`` (read from ``file``) parses, or :class:`SettingsError`."""
    ws = Path(os.path.realpath(workspace or os.getcwd()))
    home = Path(os.path.realpath(os.path.expanduser("~")))
    _rules(settings.permissions, str(file), ws, home, ("deny", "ask", "allow"), file)


def project_settings(workspace: Path) -> tuple[Settings | None, Path]:
    path = workspace / PROJECT_DIR / "settings.json"
    if not path.is_file() or path.is_symlink():
        return None, path
    return parse_settings(read_settings_json(path), path), path


def build_policy(settings: Settings, workspace: Path, *, bastion_home: Path,
                 mode: Mode | None = None, approve: ApproveMode = "ask",
                 session_id: str | None = None, approver: Approver | None = None,
                 interactive: bool | None = None, on_decision: DecisionHook | None = None,
                 user_settings_path: Path | None = None, home: Path | None = None) -> Policy:
    workspace = Path(os.path.realpath(workspace))
    home = Path(os.path.realpath(home or os.path.expanduser("~")))
    perms = settings.permissions
    grants = [Grant(workspace, "write", "default (workspace)")]
    grants += [Grant(_grant_path(f.path, workspace), f.access,
                     _source(settings, "permissions.folders", f.model_dump(), "user settings"))
               for f in perms.folders]
    rules = _rules(perms, "user settings", workspace, home, ("deny", "ask", "allow"),
                   user_settings_path or settings_path(), settings)
    deny_read = list(perms.deny_read)
    strict = settings.security_mode
    notes: list[str] = []

    project, ppath = project_settings(workspace)
    project = constrain_project(settings, project, ppath)  # never loosens managed settings
    if project is not None:
        state = TrustStore(bastion_home).state(workspace)
        trusted = state == "trusted"
        pp = project.permissions
        src = f"project {ppath}" + ("" if trusted else " (untrusted: tightening only)")
        # every rule must parse, even those ignored until trusted
        _rules(pp, src, workspace, home, ("deny", "ask", "allow"), ppath)
        rules += _rules(pp, src, workspace, home,
                        ("deny", "ask", "allow") if trusted else ("deny", "ask"), ppath)
        deny_read += pp.deny_read
        strict = strict or project.security_mode
        for f in pp.folders:
            path = _grant_path(f.path, workspace)
            if trusted:
                grants.append(Grant(path, f.access, src))
            elif f.access == "read" and any(g.access == "write" and is_within(path, g.path)
                                            for g in grants):
                grants.append(Grant(path, "read", src))  # a downgrade only tightens
        if not trusted:
            ignored = len(pp.allow) + sum(1 for f in pp.folders if f.access == "write")
            why = "changed since you trusted it" if state == "changed" else "not trusted"
            notes.append(f"project settings {ppath} are {why}: only deny/ask/denyRead rules "
                         f"apply ({ignored} widening entr{'y' if ignored == 1 else 'ies'} "
                         "ignored); run `bastion trust` to accept them")

    effective: Mode = mode or ("strict" if strict else "standard")
    return Policy(workspace, grants=grants, rules=rules, mode=effective, approve=approve,
                  deny_read=deny_read, home=home, bastion_home=bastion_home, approver=approver,
                  interactive=interactive, on_decision=on_decision, session_id=session_id,
                  user_settings_path=user_settings_path, notes=notes)

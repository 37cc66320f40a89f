"""The effective settings: managed → role → user (→ project → command line), with origins.

``load_settings()`` returns :func:`layered_settings`; the result carries its :class:`Layers`
(see :func:`layers_of`) so that callers can name the layer behind each value, report and audit
refused loosening attempts, and apply later layers (a project, ``-c KEY=VALUE``) under the
same rules.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from .layers import (
    CLI,
    MANAGED,
    PROJECT,
    USER,
    Layers,
    Merger,
    Refusal,
    all_keys,
    leaf_keys,
    lookup,
)
from .loader import SettingsError, dump_settings, parse_settings, read_settings_json, set_key
from .managed import current_identity, effective_roles, load_managed
from .models import Settings


class ManagedRefusal(SettingsError):
    """A change would loosen (or change a locked) managed or role value."""

    def __init__(self, refusals: list[Refusal]) -> None:
        first = refusals[0]
        more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
        super().__init__(first.message() + more,
                         hint="managed settings can only be made stricter by lower layers")
        self.refusals = refusals


_DEFAULTS: dict[str, Any] | None = None


def _defaults() -> dict[str, Any]:
    global _DEFAULTS
    if _DEFAULTS is None:
        _DEFAULTS = dump_settings(Settings())
    return _DEFAULTS


def _finish(merger: Merger, where: str) -> Settings:
    settings = parse_settings(merger.state.data, where)
    settings._layers = merger.state
    return settings


def _upper(defaults: dict[str, Any]) -> Merger | None:
    """A merger holding the managed file and the roles assigned to this user (None: there
    is no managed file)."""
    managed = load_managed(_all_keys)
    if managed is None:
        return None
    merger = Merger(defaults, leaves=_leaves())
    merger.state.managed_path = managed.path
    merger.apply(managed.settings, MANAGED, f"managed settings {managed.path}", binding=True)
    merger.state.locked = list(managed.locked)
    user, groups = current_identity()
    for role in effective_roles(managed, user, groups):
        merger.apply(managed.roles[role], f"role:{role}", f"role {role} ({managed.path})",
                     binding=True)
        merger.state.roles.append(role)
    return merger


def layered_settings(user_path: Path, user_raw: dict[str, Any] | None = None) -> Settings:
    """The user's effective settings under the managed layer and their roles."""
    raw = read_settings_json(user_path) if user_raw is None else user_raw
    user = parse_settings(raw, user_path)
    merger = _upper(_defaults())
    if merger is None:  # no managed file: the user's file as it is
        state = Layers(data=dump_settings(user))
        state.origins = {k: USER for k in _leaves() if lookup(raw, k)[0]}
        user._layers = state
        return user
    merger.apply(raw, USER, f"user settings {user_path}")
    return _finish(merger, str(user_path))


_LEAVES: list[str] | None = None
_ALL_KEYS: set[str] | None = None


def _all_keys() -> set[str]:
    global _ALL_KEYS
    if _ALL_KEYS is None:
        _ALL_KEYS = all_keys(_defaults())
    return _ALL_KEYS


def _leaves() -> list[str]:
    global _LEAVES
    if _LEAVES is None:
        _LEAVES = leaf_keys(_defaults())
    return _LEAVES


def layers_of(settings: Settings) -> Layers | None:
    """How ``settings`` were merged (None for a single file parsed on its own)."""
    return settings._layers


def is_managed(settings: Settings) -> bool:
    layers = layers_of(settings)
    return layers is not None and layers.managed_path is not None


def check_user_write(user_path: Path, data: dict[str, Any]) -> None:
    """Refuse writing ``data`` as the user's settings if it loosens a managed value that the
    current file does not already try to loosen (raises :class:`ManagedRefusal`)."""
    merger = _upper(_defaults())
    if merger is None:
        return
    current = layers_of(layered_settings(user_path))
    before = {(r.key, repr(r.attempted)) for r in (current.refusals if current else [])}
    merger.apply(data, USER, f"user settings {user_path}")
    new = [r for r in merger.state.refusals if (r.key, repr(r.attempted)) not in before]
    if new:
        raise ManagedRefusal(new)


def with_layer(settings: Settings, raw: dict[str, Any], layer: str, source: str, *,
               tighten_all: bool = False, strict: bool = False) -> Settings:
    """``settings`` with one more layer merged (project, command line). ``strict``: raise
    :class:`ManagedRefusal` instead of keeping the binding value."""
    state = copy.deepcopy(layers_of(settings)) or Layers(dump_settings(settings))
    merger = Merger(_defaults(), state, leaves=_leaves())
    before = len(state.refusals)
    merger.apply(raw, layer, source, tighten_all=tighten_all)
    refused = state.refusals[before:]
    if strict and refused:
        raise ManagedRefusal(refused)
    return _finish(merger, source)


def command_line_settings(settings: Settings, pairs: list[tuple[str, Any]]) -> Settings:
    """``-c KEY=VALUE`` overrides: a layer below the user's; a loosening one is refused."""
    raw: dict[str, Any] = {}
    for key, value in pairs:
        set_key(raw, key, value)
    parse_settings(raw, "-c")
    return with_layer(settings, raw, CLI, "command line (-c)", strict=True)


def constrain_project(settings: Settings, project: Settings | None,
                      path: Path) -> Settings | None:
    """A project's settings without what would loosen a managed or role value.

    Its refused entries are added to ``settings``' refusals (reported and audited at session
    start); the rest is merged by the policy as before (tightening only until trusted)."""
    layers = layers_of(settings)
    if project is None or layers is None or layers.managed_path is None:
        return project
    raw = project.model_dump(mode="json", by_alias=True, exclude_unset=True,
                             exclude={"schema_"})
    clamped, refused = Merger(_defaults(), layers, leaves=_leaves()).clamp(raw, PROJECT,
                                                         f"project settings {path}")
    layers.refusals += [r for r in refused if r not in layers.refusals]
    return parse_settings(clamped, path)


def flag_refusals(settings: Settings, *, mode: str | None, approve: str,
                  offline: bool = False) -> list[Refusal]:
    """Command-line flags that would loosen the effective settings (``--mode``, ``--approve``)."""
    del offline  # --offline only ever tightens
    layers = layers_of(settings)
    out: list[Refusal] = []
    if approve == "auto" and not settings.permissions.allow_auto_approve:
        who = layers.origin("permissions.allowAutoApprove") if layers else USER
        out.append(Refusal("permissions.allowAutoApprove", CLI, "--approve auto", "auto", False,
                           f"auto approval is disabled by {who} settings"))
    binding = layers.binding if layers else {}
    if mode == "standard" and settings.security_mode and "securityMode" in binding:
        out.append(Refusal("securityMode", CLI, "--mode standard", "standard", True,
                           f"security mode is required by {binding['securityMode']} settings"))
    return out


def origins_table(settings: Settings) -> list[tuple[str, Any, str]]:
    """(key, value, layer) for every leaf, for ``config show --origin``."""
    layers = layers_of(settings)
    data = dump_settings(settings)
    rows = []
    for key in leaf_keys(_defaults()):
        _, value = lookup(data, key)
        origin = layers.origin(key) if layers else USER
        if isinstance(value, list) and value and layers is not None:
            origin = ", ".join(sorted({layers.entry_origin(key, e) for e in value}))
        rows.append((key, value, origin))
    return rows


def settings_files(settings: Settings, user_path: Path,
                   project_path: Path | None = None) -> list[dict[str, Any]]:
    """The files these settings were read from, with their SHA-256 (audit mode records them
    as configuration reads)."""
    import hashlib

    layers = layers_of(settings)
    files = [(MANAGED, layers.managed_path if layers else None), (USER, user_path),
             (PROJECT, project_path)]
    out = []
    for layer, path in files:
        if path is None:
            continue
        try:
            digest: str | None = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            digest = None
        out.append({"layer": layer, "path": str(path), "sha256": digest,
                    "exists": digest is not None})
    return out


def describe_layers(settings: Settings) -> list[str]:
    """One line per fact about the layers (``doctor``, ``policy explain``)."""
    layers = layers_of(settings)
    if layers is None or layers.managed_path is None:
        return ["managed settings: none (user settings apply as they are)", "role: none"]
    lines = [f"managed settings: {layers.managed_path}"
             + (f" (locked: {', '.join(layers.locked)})" if layers.locked else ""),
             "role: " + (", ".join(layers.roles) if layers.roles else "none")]
    data = dump_settings(settings)
    for key in _KEY_FACTS:
        lines.append(f"{key} = {json.dumps(lookup(data, key)[1])} (decided by "
                     f"{layers.origin(key)})")
    lines += [f"refused: {r.message()}" for r in layers.refusals]
    return lines


#: the values ``doctor`` and ``policy explain`` name the deciding layer of
_KEY_FACTS = ("securityMode", "offlineMode", "permissions.allowAutoApprove", "audit.level",
              "telemetry.enabled")


def validate_managed(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """Check a managed file's own keys and roles (``config validate``); returns its settings
    part and every role's fragment (for the rule check). Ownership is checked on loading."""
    from .managed import parse_managed

    managed = parse_managed(data, path, _all_keys())
    return [managed.settings, *managed.roles.values()]


def enforce_managed(settings: Settings) -> Settings:
    """Settings built outside :func:`load_settings` (e.g. the file's values with ``-c``
    overrides applied by hand) checked against the layers: whatever differs from the layered
    load is a command-line layer, and a loosening one raises :class:`ManagedRefusal`."""
    if layers_of(settings) is not None:
        return settings
    base = load_settings_layered()
    if not is_managed(base):
        return settings
    given, effective = dump_settings(settings), dump_settings(base)
    raw: dict[str, Any] = {}
    for key in _leaves():
        value = lookup(given, key)[1]
        if value != lookup(effective, key)[1]:
            set_key(raw, key, value)
    return with_layer(base, raw, CLI, "command line (-c)", strict=True)


def load_settings_layered() -> Settings:
    from .loader import settings_path

    return layered_settings(settings_path())

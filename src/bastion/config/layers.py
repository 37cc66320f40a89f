"""Merging settings layers: managed → role → user → project → command line.

A value set by the managed file or by a role is *binding*: a lower layer may only make it
stricter — allowlists intersect, denials union, booleans move only towards their strict side,
limits only down, ranked choices only up, anything else not at all. A ``locked`` key may not be
changed by any lower layer, even towards stricter. A lower value that would loosen a binding
one is a :class:`Refusal`: the binding value stays, and the caller reports and audits it.

Every leaf remembers the layer that decided it (``origins``), every list entry the layer that
added it (``entry_origins``) — ``config show --origin`` and ``policy explain`` print them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANAGED, USER, PROJECT, CLI, DEFAULT = "managed", "user", "project", "command line", "default"

TRUE_STRICTER = frozenset({
    "securityMode", "offlineMode", "audit.enabled", "audit.includeToolCalls",
    "audit.includeFileAccess", "network.blockAllOthers", "network.requireProxy",
    "dataResidency.enforceRegion", "anomaly.enabled", "sandbox.landlock"})
FALSE_STRICTER = frozenset({
    "telemetry.enabled", "telemetry.crashReports", "network.allowCleartextHttp",
    "permissions.allowAutoApprove"})
#: lower is stricter (None = unlimited)
MIN_STRICTER = frozenset({
    "sandbox.defaultTimeoutS", "sandbox.maxTimeoutS", "sandbox.outputLimit", "sandbox.memoryMb",
    "sandbox.maxProcesses", "sandbox.maxFileSizeMb", "sandbox.cpuSeconds",
    "sandbox.maxOpenFiles", "agent.maxSteps", "agent.toolOutputLimit", "anomaly.massChangeFiles",
    "anomaly.deniedAttempts", "anomaly.sensitiveReads", "anomaly.egressBurst",
    "anomaly.commandFilesTouched", "audit.rotateMb"})
MAX_STRICTER = frozenset({
    "anomaly.massChangeWindowS", "anomaly.deniedWindowS", "anomaly.sensitiveWindowS",
    "anomaly.egressWindowS"})
RANKED: dict[str, tuple[str, ...]] = {
    "network.minTlsVersion": ("1.2", "1.3"), "anomaly.onAnomaly": ("record", "pause"),
    "sandbox.mode": ("none", "bubblewrap"), "audit.level": ("standard", "full"),
    "vault.slot": ("auto", "keychain", "passphrase")}
ALLOWLISTS = frozenset({"network.allowedDomains", "network.allowPrivateAddresses",
                        "permissions.allow", "permissions.folders"})
DENYLISTS = frozenset({"network.deniedDomains", "permissions.deny", "permissions.ask",
                       "permissions.denyRead"})
#: object-valued leaves: entries a binding layer set stay; lower layers may add entries
FREE_DICTS = frozenset({"network.pins", "mcpServers", "dataResidency.endpointRegions"})


@dataclass(frozen=True)
class Refusal:
    """A lower layer tried to loosen (or change a locked) binding value."""

    key: str
    layer: str
    source: str
    attempted: Any
    kept: Any
    reason: str

    def message(self) -> str:
        return (f"{self.source}: '{self.key}' = {_short(self.attempted)} refused — {self.reason} "
                f"(kept {_short(self.kept)})")

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "layer": self.layer, "source": self.source,
                "attempted": self.attempted, "kept": self.kept, "reason": self.reason}


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class Layers:
    """The merge state: effective data plus where every value came from."""

    data: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)
    entry_origins: dict[str, dict[str, str]] = field(default_factory=dict)
    binding: dict[str, str] = field(default_factory=dict)  # leaf → binding layer label
    locked: list[str] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    managed_path: Path | None = None

    def is_locked(self, key: str) -> bool:
        return any(key == k or key.startswith(k + ".") for k in self.locked)

    def origin(self, key: str) -> str:
        return self.origins.get(key, DEFAULT)

    def entry_origin(self, key: str, entry: Any) -> str:
        return self.entry_origins.get(key, {}).get(_entry_key(entry), self.origin(key))


def _entry_key(entry: Any) -> str:
    return json.dumps(entry, sort_keys=True, default=str)


def leaf_keys(defaults: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted leaves of the defaults (an empty or free object is one leaf)."""
    out: list[str] = []
    for key, value in defaults.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and dotted not in FREE_DICTS:
            out.extend(leaf_keys(value, dotted + "."))
        else:
            out.append(dotted)
    return out


def all_keys(defaults: dict[str, Any]) -> set[str]:
    """Every dotted key (objects and leaves): what ``locked`` may name."""
    keys: set[str] = set()
    for leaf in leaf_keys(defaults):
        parts = leaf.split(".")
        keys.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return keys


def lookup(data: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _domain_covered(entry: str, allowed: list[str]) -> bool:
    for pattern in allowed:
        if entry == pattern:
            return True
        if pattern.startswith("*."):
            body = entry.removeprefix("*.")
            if body.endswith(pattern[1:]):
                return True
    return False


def _real(raw: str) -> str:
    return os.path.realpath(os.path.expanduser(raw))


def _folder_covered(entry: Any, allowed: list[Any]) -> bool:
    if not isinstance(entry, dict) or not os.path.isabs(os.path.expanduser(entry["path"])):
        return False  # under a binding folder list only absolute grants can be compared
    path = _real(entry["path"])
    for grant in allowed:
        root = _real(grant["path"])
        inside = path == root or path.startswith(root.rstrip("/") + "/")
        if inside and (entry.get("access", "read") == "read" or grant.get("access") == "write"):
            return True
    return False


def _narrow_grant(entry: Any, allowed: list[Any]) -> Any:
    """A folder grant within the allowed ones, downgraded to read where only reading is
    allowed; None when it lies outside all of them."""
    if _folder_covered(entry, allowed):
        return entry
    as_read = {**entry, "access": "read"} if isinstance(entry, dict) else entry
    return as_read if _folder_covered(as_read, allowed) else None


def _covered(key: str, entry: Any, allowed: list[Any]) -> bool:
    if key == "permissions.folders":
        return _folder_covered(entry, allowed)
    if key == "permissions.allow":
        return entry in allowed
    return isinstance(entry, str) and _domain_covered(entry, allowed)


def _tighten(key: str, cur: Any, new: Any) -> tuple[Any, str | None]:
    """The value a lower layer may set over a binding ``cur``: (value, refusal reason|None)."""
    if new == cur:
        return cur, None
    if key in TRUE_STRICTER:
        return (new, None) if new is True else (cur, "may only be turned on")
    if key in FALSE_STRICTER:
        return (new, None) if new is False else (cur, "may only be turned off")
    if key in MIN_STRICTER:
        ok = new is not None and (cur is None or new <= cur)
        return (new, None) if ok else (cur, "may only be lowered")
    if key in MAX_STRICTER:
        return (new, None) if new >= cur else (cur, "may only be raised")
    if key in RANKED:
        order = RANKED[key]
        ok = new in order and cur in order and order.index(new) >= order.index(cur)
        return (new, None) if ok else (cur, "may only be made stricter")
    return cur, "set by a binding layer"


def normalise(key: str, value: Any) -> Any:
    """Folder grants with their default access spelled out (so entries compare equal)."""
    if key == "permissions.folders" and isinstance(value, list):
        return [{"path": e.get("path"), "access": e.get("access", "read")}
                if isinstance(e, dict) else e for e in value]
    return value


def _drop(data: dict[str, Any], dotted: str) -> None:
    parts = dotted.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(parts[-1], None)


class Merger:
    """Applies layers in order onto the defaults."""

    def __init__(self, defaults: dict[str, Any], state: Layers | None = None,
                 leaves: list[str] | None = None) -> None:
        self.leaves = leaves if leaves is not None else leaf_keys(defaults)
        self.state = state or Layers(data=json.loads(json.dumps(defaults)))

    def apply(self, raw: dict[str, Any], layer: str, source: str, *, binding: bool = False,
              tighten_all: bool = False) -> list[Refusal]:
        """Merge one layer's raw (validated) dict. ``binding``: its values bind lower layers;
        ``tighten_all``: it may only tighten every value (an untrusted project)."""
        refused: list[Refusal] = []
        for key in self.leaves:
            present, new = lookup(raw, key)
            if present:
                refused += self._leaf(key, normalise(key, new), layer, source, binding,
                                      tighten_all)
        self.state.refusals += refused
        return refused

    def _leaf(self, key: str, new: Any, layer: str, source: str, binding: bool,
              tighten_all: bool) -> list[Refusal]:
        st = self.state
        _, cur = lookup(st.data, key)
        constrained = key in st.binding or tighten_all
        value, refusals = self.decide(key, cur, new, layer, source, constrained)
        if isinstance(value, list) and value != cur:
            seen = st.entry_origins.setdefault(key, {})
            for entry in value:
                if not constrained or _entry_key(entry) not in seen:
                    seen[_entry_key(entry)] = layer
        if value != cur:
            _put(st.data, key, value)
            st.origins[key] = layer if not constrained or key not in st.origins \
                else self._mixed(key, layer)
        if binding and not st.is_locked(key):
            st.binding[key] = layer
        return refusals

    def decide(self, key: str, cur: Any, new: Any, layer: str, source: str,
               constrained: bool) -> tuple[Any, list[Refusal]]:
        """What a layer setting ``key`` to ``new`` over ``cur`` results in, and any refusals."""
        if self.state.is_locked(key):
            if new != cur:
                return cur, [Refusal(key, layer, source, new, cur, "locked by managed settings")]
            return cur, []
        if not constrained:
            return new, []
        if key in DENYLISTS:
            return list(cur) + [e for e in new if e not in cur], []
        if key == "permissions.folders":
            value = [g for g in (_narrow_grant(e, cur) for e in new) if g is not None]
            return value, [Refusal(key, layer, source, e, cur, "not within the allowed folders")
                           for e in new if e not in value]
        if key in ALLOWLISTS:
            value = [e for e in new if _covered(key, e, cur)]
            return value, [Refusal(key, layer, source, e, cur, "not within the allowed list")
                           for e in new if e not in value]
        if key in FREE_DICTS:
            merged, refusals = dict(cur), []
            for name, entry in new.items():
                if name in cur and cur[name] != entry:
                    refusals.append(Refusal(f"{key}.{name}", layer, source, entry, cur[name],
                                            "set by a binding layer"))
                else:
                    merged[name] = entry
            return merged, refusals
        value, why = _tighten(key, cur, new)
        return value, [] if why is None else [Refusal(key, layer, source, new, cur, why)]

    def clamp(self, raw: dict[str, Any], layer: str, source: str) -> tuple[dict[str, Any],
                                                                          list[Refusal]]:
        """``raw`` (a lower layer merged elsewhere, e.g. a project's settings) without what
        would loosen a binding value; the state is not changed."""
        out = json.loads(json.dumps(raw))
        refused: list[Refusal] = []
        for key in self.leaves:
            present, new = lookup(raw, key)
            if not present or not (key in self.state.binding or self.state.is_locked(key)):
                continue
            new = normalise(key, new)
            _, cur = lookup(self.state.data, key)
            value, refusals = self.decide(key, cur, new, layer, source, True)
            refused += refusals
            if self.state.is_locked(key):
                if refusals:
                    _drop(out, key)
            elif key in ALLOWLISTS or key in FREE_DICTS:
                _put(out, key, value if key in ALLOWLISTS else
                     {k: v for k, v in new.items() if k not in cur or cur[k] == v})
            elif refusals:
                _drop(out, key)
        return out, refused

    def _mixed(self, key: str, layer: str) -> str:
        old = self.state.origins.get(key, DEFAULT)
        if self.state.binding.get(key) and not isinstance(lookup(self.state.data, key)[1], list):
            return layer  # a stricter scalar: the lower layer decided
        return old if layer in old.split("+") else f"{old}+{layer}"

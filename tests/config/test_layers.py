"""The merge rules of config/layers.py, in-process: every kind of value, in both directions."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.config import Settings, dump_settings
from bastion.config.layers import MANAGED, USER, Merger


def merged(managed: dict[str, Any], user: dict[str, Any], locked: tuple[str, ...] = (),
           role: dict[str, Any] | None = None) -> Merger:
    merger = Merger(dump_settings(Settings()))
    merger.apply(managed, MANAGED, "managed file", binding=True)
    merger.state.locked = list(locked)
    if role is not None:
        merger.apply(role, "role:r", "role r", binding=True)
    merger.apply(user, USER, "user file")
    return merger


def value(m: Merger, dotted: str) -> Any:
    node: Any = m.state.data
    for part in dotted.split("."):
        node = node[part]
    return node


@pytest.mark.parametrize(("managed", "user", "key", "expected", "refused"), [
    ({"telemetry": {"enabled": False}}, {"telemetry": {"enabled": True}},
     "telemetry.enabled", False, True),
    ({"securityMode": True}, {"securityMode": False}, "securityMode", True, True),
    ({"offlineMode": False}, {"offlineMode": True}, "offlineMode", True, False),  # stricter
    ({"sandbox": {"memoryMb": 512}}, {"sandbox": {"memoryMb": 4096}}, "sandbox.memoryMb",
     512, True),
    ({"sandbox": {"memoryMb": 512}}, {"sandbox": {"memoryMb": 256}}, "sandbox.memoryMb",
     256, False),
    ({"network": {"minTlsVersion": "1.3"}}, {"network": {"minTlsVersion": "1.2"}},
     "network.minTlsVersion", "1.3", True),
    ({"audit": {"level": "full"}}, {"audit": {"level": "standard"}}, "audit.level", "full",
     True),
    ({"network": {"proxyUrl": "http://proxy.corp:3128"}}, {"network": {"proxyUrl": None}},
     "network.proxyUrl", "http://proxy.corp:3128", True),
    ({"network": {"allowedDomains": ["*.corp.example", "docs.example"]}},
     {"network": {"allowedDomains": ["api.corp.example", "evil.example"]}},
     "network.allowedDomains", ["api.corp.example"], True),
    ({"permissions": {"deny": ["Read(./a)"]}}, {"permissions": {"deny": ["Read(./b)"]}},
     "permissions.deny", ["Read(./a)", "Read(./b)"], False),
    ({"permissions": {"deny": ["Read(./a)"]}}, {"permissions": {"deny": []}},
     "permissions.deny", ["Read(./a)"], False),  # a union: the managed rule stays
    ({"network": {"pins": {"a.example": ["x" * 64]}}},
     {"network": {"pins": {"a.example": ["y" * 64], "b.example": ["z" * 64]}}},
     "network.pins", {"a.example": ["x" * 64], "b.example": ["z" * 64]}, True),
])
def test_lower_layers_only_tighten(managed: dict[str, Any], user: dict[str, Any], key: str,
                                   expected: Any, refused: bool) -> None:
    m = merged(managed, user)
    assert value(m, key) == expected
    assert bool(m.state.refusals) == refused, m.state.refusals


def test_values_the_managed_file_leaves_alone_are_the_users() -> None:
    m = merged({"telemetry": {"enabled": False}}, {"offlineMode": True,
                                                   "network": {"allowedDomains": ["x.example"]}})
    assert value(m, "offlineMode") is True and m.state.origin("offlineMode") == USER
    assert value(m, "network.allowedDomains") == ["x.example"]
    assert m.state.origin("telemetry.enabled") == MANAGED
    assert m.state.origin("sandbox.memoryMb") == "default"
    assert not m.state.refusals


def test_locked_refuses_even_a_stricter_value() -> None:
    m = merged({"sandbox": {"memoryMb": 1024}}, {"sandbox": {"memoryMb": 128}},
               locked=("sandbox",))
    assert value(m, "sandbox.memoryMb") == 1024
    assert m.state.refusals[0].reason == "locked by managed settings"


def test_folder_grants_narrow_and_downgrade(tmp_path: Any) -> None:
    shared, other = tmp_path / "shared", tmp_path / "other"
    managed = {"permissions": {"folders": [{"path": str(shared), "access": "read"}]}}
    user = {"permissions": {"folders": [{"path": str(shared / "sub"), "access": "write"},
                                        {"path": str(other)}, {"path": "relative/dir"}]}}
    m = merged(managed, user)
    assert value(m, "permissions.folders") == [{"path": str(shared / "sub"), "access": "read"}]
    assert len(m.state.refusals) == 3


def test_a_role_tightens_the_managed_file_and_binds_the_user() -> None:
    m = merged({"network": {"allowedDomains": ["*.corp.example"]}}, {
        "network": {"allowedDomains": ["a.corp.example", "b.corp.example"]},
        "agent": {"maxSteps": 100}},
        role={"network": {"allowedDomains": ["a.corp.example", "evil.example"]},
              "agent": {"maxSteps": 10}})
    assert value(m, "network.allowedDomains") == ["a.corp.example"]
    assert value(m, "agent.maxSteps") == 10
    assert m.state.origin("agent.maxSteps") == "role:r"
    layers = {(r.layer, r.key) for r in m.state.refusals}
    assert layers == {("role:r", "network.allowedDomains"), (USER, "network.allowedDomains"),
                      (USER, "agent.maxSteps")}


def test_entry_origins_name_each_layer() -> None:
    m = merged({"permissions": {"deny": ["Read(./a)"]}}, {"permissions": {"deny": ["Read(./b)"]}})
    assert m.state.entry_origin("permissions.deny", "Read(./a)") == MANAGED
    assert m.state.entry_origin("permissions.deny", "Read(./b)") == USER


def test_locked_mcp_servers_keep_project_servers_out(tmp_path: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from bastion.config import load_settings
    from bastion.mcp_client.config import configured_servers

    managed = tmp_path / "managed.json"
    managed.write_text(json.dumps({"mcpServers": {"corp": {"command": "corp-mcp"}},
                                   "locked": ["mcpServers"]}))
    monkeypatch.setenv("BASTION_MANAGED_SETTINGS", str(managed))
    ws = tmp_path / "ws"
    (ws / ".bastion").mkdir(parents=True)
    (ws / ".bastion" / "settings.json").write_text(json.dumps(
        {"mcpServers": {"exfil": {"command": "curl"}}}))
    settings = load_settings()
    names = [e.name for e in configured_servers(settings, ws, tmp_path / "home")]
    assert names == ["corp"]

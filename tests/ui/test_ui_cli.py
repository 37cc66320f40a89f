"""`bastion ui` as a user runs it: the first line is the tokened URL; a busy port is one clear line."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import httpx

from helpers import run_bastion


def test_first_line_is_the_opening_url_and_it_serves() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bastion", "ui", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().rstrip("\n")
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{40,})", line)
        assert m, line
        with httpx.Client(timeout=60) as client:
            first = client.get(line)
            assert first.status_code == 303 and "SameSite=Strict" in first.headers["set-cookie"]
            page = client.get(f"http://127.0.0.1:{m.group(1)}/sessions")
            assert page.status_code == 200 and "Sessions" in page.text
    finally:
        proc.terminate()
        proc.wait(20)


def test_a_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = run_bastion("ui", "--no-browser", "--port", str(port), timeout=60)
    assert r.returncode == 1
    assert f"port {port} is in use" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""

"""`bastion ui` as a user runs it: the first line is the tokened URL; a busy port is one clear line."""

from __future__ import annotations

import html
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

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
            home = first.headers["location"]  # the random prefix every page lives under
            assert home.startswith("/u/") and home.endswith("/")
            page = client.get(f"http://127.0.0.1:{m.group(1)}{home}sessions")
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


def test_the_browser_is_not_handed_the_token_on_its_command_line(tmp_path: Path) -> None:
    """Every local user can read a process's argv (ps); the token goes through a 0600 file."""
    seen = tmp_path / "argv.txt"
    fake = tmp_path / "fake-browser"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {seen}\n")
    fake.chmod(0o755)
    env = {**os.environ, "BROWSER": str(fake), "DISPLAY": ""}
    proc = subprocess.Popen([sys.executable, "-m", "bastion", "ui"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        token = url.split("token=")[1]
        deadline = time.monotonic() + 60
        while not seen.exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(0.2)
        argv = seen.read_text()
        assert token not in argv
        opener = Path(argv.strip().removeprefix("file://"))
        assert opener.is_file() and stat.S_IMODE(opener.stat().st_mode) == 0o600
        assert stat.S_IMODE(opener.parent.stat().st_mode) == 0o700
        assert html.unescape(opener.read_text()).count(url) >= 1
    finally:
        proc.terminate()
        proc.wait(20)
    assert not opener.exists()

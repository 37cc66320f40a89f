"""`bastion ui`: time to the first output line (goal ≤ 1 s) and a 1,000-session page (≤ 300 ms).

Start time is measured in a subprocess from spawn to the printed URL, and on to the first page
served through that URL, against a baseline of `bastion sessions list` (interpreter, CLI,
unlocking the vault and opening the database: what every data command pays).
The page is rendered over real HTTP through the whole gate (Host, cookie, CSP headers),
against a baseline of a tiny page (/static/app.css) on the same connection.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SESSIONS = 1000
ROUNDS = 5


def _spawn_until_line(args: list[str], env: dict[str, str],
                      open_page: bool = False) -> tuple[float, float, str]:
    """Seconds to the first output line, and (``open_page``) to the first page served."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bastion", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    first_line = time.perf_counter() - t
    page = 0.0
    if open_page:
        with httpx.Client(timeout=30, follow_redirects=True) as client:
            r = client.get(line)  # waits in the listen queue until the runtime is open
            assert r.status_code == 200, r.status_code
        page = time.perf_counter() - t
    proc.terminate()
    proc.wait(10)
    return first_line, page, line


def start_time(env: dict[str, str]) -> None:
    _spawn_until_line(["--version"], env)  # warm the page cache
    ui = [_spawn_until_line(["ui", "--no-browser"], env, open_page=True)
          for _ in range(ROUNDS)]
    base = [_spawn_until_line(["sessions", "list"], env)[0] for _ in range(ROUNDS)]
    assert all(line.startswith("http://127.0.0.1:") for _, _, line in ui), ui
    line_s = statistics.median(t for t, _, _ in ui)
    page_s = statistics.median(p for _, p, _ in ui)
    base_s = statistics.median(base)
    print(f"bastion ui → first line: {line_s * 1000:.0f} ms (median of {ROUNDS}; goal ≤ 1000 ms)"
          f"   → first page served: {page_s * 1000:.0f} ms   baseline `bastion sessions list` "
          f"(unlock + open the database): {base_s * 1000:.0f} ms   ratio {page_s / base_s:.1f}x")


def page_time() -> None:
    from bastion.runtime import Runtime
    from bastion.ui import open_ui

    with Runtime.open() as rt:
        for i in range(SESSIONS):
            rt.sessions.create(title=f"task number {i} <b>escaped</b>", workspace="/tmp/ws",
                               agent="general", provider="replay", model="bench")
    server = open_ui(0)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}{server.gate.prefix}"
        with httpx.Client(base_url=base, timeout=30) as client:
            client.get(server.url)
            client.get("/sessions")  # templates compiled, caches warm
            page, small = [], []
            for _ in range(ROUNDS * 2):
                t = time.perf_counter()
                r = client.get("/sessions")
                page.append(time.perf_counter() - t)
                assert r.status_code == 200 and r.text.count("<tr>") >= SESSIONS, r.status_code
                t = time.perf_counter()
                client.get("/static/app.css")
                small.append(time.perf_counter() - t)
    finally:
        server.close()
    p, s = statistics.median(page), statistics.median(small)
    print(f"/sessions with {SESSIONS} sessions: {p * 1000:.1f} ms (median; goal ≤ 300 ms)   "
          f"tiny page: {s * 1000:.1f} ms   ratio {p / s:.1f}x   ({len(r.content) // 1024} KiB)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BASTION_HOME"] = str(Path(tmp) / "home")
        os.environ.setdefault("BASTION_PASSPHRASE", "bench passphrase for the ui")
        os.environ["BASTION_TELEMETRY_DISABLED"] = "1"
        os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        env = dict(os.environ)
        subprocess.run([sys.executable, "-m", "bastion", "sessions", "list"], env=env,
                       capture_output=True, check=True)  # first-run set-up outside the timing
        start_time(env)
        page_time()


if __name__ == "__main__":
    main()

"""The escape suite: each probe runs inside the sandbox; the verdict is taken outside it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.policy import Grant, Policy

from .conftest import Box

pytestmark = pytest.mark.sandbox


def canary() -> str:
    return "CANARY-" + uuid.uuid4().hex


def test_allowed_write_works_and_is_reported(box: Box) -> None:
    out = box.run("echo ok > made.txt && cat made.txt")
    assert out.result and out.result.exit_code == 0 and "ok" in out.result.stdout
    assert (box.ws / "made.txt").read_text() == "ok\n"
    assert [c.action for c in out.changes] == ["created"]


@pytest.mark.parametrize("target", ["{outside}/t.txt", "../outside/t.txt",
                                    "{ws}/../outside/t.txt", "{sibling}/t.txt",
                                    "../ws-evil/t.txt", "/proc/self/root{outside}/t.txt",
                                    "/proc/1/root{outside}/t.txt", "/usr/pwned", "/etc/pwned",
                                    "{home}/t.txt"])
def test_writes_outside_the_grant_fail(box: Box, target: str) -> None:
    for d in (box.outside, box.sibling, box.home):
        (d / "t.txt").write_text("original")
    path = target.format(outside=box.outside, ws=box.ws, sibling=box.sibling, home=box.home)
    box.run(f"echo pwned > {path}; echo pwned >> {path}; rm -f {path}")
    for d in (box.outside, box.sibling, box.home):
        assert (d / "t.txt").read_text() == "original"
    assert not Path("/usr/pwned").exists() and not Path("/etc/pwned").exists()


def test_outside_and_prefix_sibling_unreadable(box: Box) -> None:
    secret = canary()
    (box.outside / "secret.txt").write_text(secret)
    (box.sibling / "secret.txt").write_text(secret)
    text = box.output(f"cat {box.outside}/secret.txt ../ws-evil/secret.txt "
                      f"/proc/self/root{box.outside}/secret.txt "
                      f"/proc/1/root{box.sibling}/secret.txt; ls -la {box.base}")
    assert secret not in text


def test_symlinks_pointing_out(box: Box) -> None:
    secret = canary()
    target = box.outside / "target.txt"
    target.write_text(secret)
    (box.ws / "link").symlink_to(target)
    (box.ws / "dirlink").symlink_to(box.outside)
    text = box.output("cat link dirlink/target.txt; echo pwned > link; "
                      "echo pwned > dirlink/new.txt; ln -sf /etc/passwd mine && echo x >> mine")
    assert secret not in text
    assert target.read_text() == secret
    assert not (box.outside / "new.txt").exists()


def test_preplanted_hard_link_is_read_only(box: Box) -> None:
    original = canary()
    outside_file = box.outside / "h.txt"
    outside_file.write_text(original)
    os.link(outside_file, box.ws / "h.txt")
    out = box.run("echo pwned >> h.txt; echo pwned > h.txt; truncate -s 0 h.txt; "
                  "rm -f h.txt; echo done")
    assert outside_file.read_text() == original
    assert out.result is not None and "done" in out.result.stdout


@pytest.mark.parametrize("attack", [
    "echo evil > .git/hooks/pre-commit",
    "echo evil > .git/hooks/post-checkout",
    "echo '[core]' >> .git/config",
    "rm -rf .git; mkdir .git",
    "mv .git moved",
    "echo 'gitdir: evil' > .git",
    "mkdir -p .vscode && echo '{}' > .vscode/settings.json",
    "mkdir -p .github/workflows && echo x > .github/workflows/ci.yml",
    "echo '{}' > .mcp.json",
    "echo evil >> .bashrc",
    "mkdir -p .bastion && echo '{}' > .bastion/settings.json",
    "rm -rf .bastion; ln -s /tmp .bastion",
    "mv .bastion gone; ln -s gone .bastion",
    "mkdir -p sub/.git/hooks && echo evil > sub/.git/hooks/pre-commit",
    "mkdir -p sub/.vscode && echo x > sub/.vscode/tasks.json",
])
@pytest.mark.parametrize("bastion_exists", [True, False])
def test_protected_paths(box: Box, attack: str, bastion_exists: bool) -> None:
    git = box.ws / ".git"
    (git / "hooks").mkdir(parents=True)
    (git / "config").write_text("[core]\n")
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    if bastion_exists:
        (box.ws / ".bastion").mkdir()
        (box.ws / ".bastion" / "settings.json").write_text("{\"a\": 1}")
    before = _tree(box.ws)
    box.run(attack)
    after = _tree(box.ws)
    protected = [p for p in set(before) | set(after)
                 if p.split("/")[0] in (".git", ".bastion", ".vscode", ".github", ".mcp.json",
                                        ".bashrc") or p.startswith("sub/.")]
    for p in protected:
        if p.startswith(".git/") and not p.startswith((".git/hooks", ".git/config")):
            continue  # the rest of the repository stays writable for git itself
        assert before.get(p) == after.get(p), f"{attack}: {p} changed"
    assert (git / "config").read_text() == "[core]\n"


def _tree(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                found[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                found[rel] = p.read_text(errors="replace")
            else:
                found[rel] = "dir"
    return found


def test_secrets_hidden(box: Box, bastion_home: Path) -> None:
    secret = canary()
    for d in (".ssh", ".aws"):
        (box.home / d).mkdir()
        (box.home / d / "credentials").write_text(secret)
    (box.home / "notes.txt").write_text("visible")
    (box.ws / ".env").write_text(f"API_KEY={secret}")
    (box.ws / "sub").mkdir()
    (box.ws / "sub" / ".env.local").write_text(secret)
    (bastion_home / "canary.txt").write_text(secret)
    # grant BASTION_HOME's parent for reading: BASTION_HOME itself must stay hidden
    policy = Policy(box.ws, grants=[Grant(box.ws, "write", "t"), Grant(box.home, "read", "t"),
                                    Grant(bastion_home.parent, "read", "t")],
                    home=box.home, bastion_home=bastion_home)
    from bastion.tools.run_command import CommandRunner

    out = CommandRunner(policy, box.settings).run(
        f"cat {box.home}/notes.txt {box.home}/.ssh/credentials {box.home}/.aws/credentials "
        f".env sub/.env.local {bastion_home}/canary.txt; grep -r CANARY {box.home} . "
        f"{bastion_home}; echo x > .env", 20, authorized=True)
    assert out.result is not None
    text = out.result.stdout + out.result.stderr
    assert "visible" in text
    assert secret not in text
    assert (box.ws / ".env").read_text() == f"API_KEY={secret}"


def test_credential_environment_never_passes(box: Box, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    secret = canary()
    for name in ("MY_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD",
                 "GOOGLE_APPLICATION_CREDENTIALS", "BASTION_PASSPHRASE", "LC_SECRET_THING"):
        monkeypatch.setenv(name, secret)
    text = box.output("env; cat /proc/1/environ /proc/self/environ /proc/*/environ "
                      "2>/dev/null | tr '\\0' '\\n'")
    assert secret not in text
    assert "PATH=" in text


@pytest.fixture
def tcp_listener() -> Iterator[tuple[int, list[bytes]]]:
    received: list[bytes] = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            received.append(b"connected:" + conn.recv(100))
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], received
    stop.set()
    t.join()
    srv.close()


def test_no_network_to_host_loopback(box: Box, tcp_listener: tuple[int, list[bytes]]) -> None:
    port, received = tcp_listener
    text = box.output(
        f"python3 -c \"import socket; s=socket.create_connection(('127.0.0.1', {port}), 2); "
        f"s.sendall(b'leak')\"; (exec 3<>/dev/tcp/127.0.0.1/{port} && echo leak >&3) 2>&1; "
        f"bash -c 'echo leak > /dev/tcp/127.0.0.1/{port}' 2>&1; true")
    time.sleep(0.3)
    assert received == []
    assert "Errno" in text or "refused" in text.lower() or "unreachable" in text.lower()


def _unix_server(path: Path) -> tuple[socket.socket, list[bytes], threading.Event]:
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(5)
    srv.settimeout(0.2)
    got: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            got.append(b"connected")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv, got, stop


def test_host_unix_sockets_unreachable(box: Box) -> None:
    # visible (a read grant), real /tmp (hidden by the private /tmp), inside the workspace
    paths = [box.home / "agent.sock", Path(f"/tmp/bastion-test-{uuid.uuid4().hex[:8]}.sock"),
             box.ws / "ws.sock"]
    servers = [_unix_server(p) for p in paths]
    try:
        script = "; ".join(
            f"python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.connect('{p}')\""
            for p in paths)
        text = box.output(script + "; ls -la " + str(box.home) + "; true")
        assert "agent.sock" in text  # the socket file is visible, yet connect is refused
        time.sleep(0.3)
        for _, got, _ in servers:
            assert got == []
        assert text.count("Operation not permitted") >= 2
    finally:
        for srv, _, stop in servers:
            stop.set()
            srv.close()
        for p in paths:
            p.unlink(missing_ok=True)


def test_host_processes_invisible_and_unsignalable(box: Box) -> None:
    victim = subprocess.Popen(["sleep", "30"])
    try:
        text = box.output(f"ls /proc | grep -E '^[0-9]+$' | wc -l; kill -9 {victim.pid}; "
                          f"kill -9 -1; cat /proc/{victim.pid}/cmdline; echo end")
        assert victim.poll() is None, "host process was killed from inside the sandbox"
        count = int(text.split()[0])
        assert count < 10, f"sandbox sees {count} processes"
    finally:
        victim.kill()
        victim.wait()


def _host_processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry))
    return found


def test_nothing_outlives_the_command(box: Box) -> None:
    marker = f"{time.time_ns() % 10**6 + 1000}.5"
    out = box.run(f"sleep {marker} & setsid sleep {marker} & nohup sleep {marker} "
                  f">/dev/null 2>&1 & (trap '' HUP TERM; sleep {marker}) & disown; echo started")
    assert out.result is not None and "started" in out.result.stdout
    assert out.result.duration < 10
    time.sleep(0.2)
    assert _host_processes_with(marker) == []


def test_timeout_kills_the_whole_tree(box: Box) -> None:
    marker = f"{time.time_ns() % 10**6 + 2000}.25"
    start = time.monotonic()
    out = box.runner.run(f"sleep {marker} & sleep {marker}", 1, authorized=True)
    assert out.result is not None and out.result.timed_out
    assert time.monotonic() - start < 8
    time.sleep(0.2)
    assert _host_processes_with(marker) == []


def test_interrupt_kills_the_tree(box: Box) -> None:
    marker = f"{time.time_ns() % 10**6 + 3000}.75"

    def interrupt() -> None:
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        box.runner.run(f"sleep {marker} & sleep {marker}", 20, authorized=True)
    time.sleep(0.2)
    assert _host_processes_with(marker) == []


def test_memory_bounded(box: Box) -> None:
    out = box.run("python3 -c \"x = bytearray(1024 * 1024 * 1024); print('allocated')\"",
                  memory_mb=256)
    assert out.result is not None
    assert "allocated" not in out.result.stdout and out.result.exit_code != 0
    assert "MemoryError" in out.result.stderr


def test_file_size_bounded(box: Box) -> None:
    box.run("head -c 5000000 /dev/zero > big.bin", max_file_size_mb=1)
    assert (box.ws / "big.bin").stat().st_size <= 1024 * 1024


def test_process_count_bounded(box: Box) -> None:
    # a fork bomb that would run forever is cut by pids.max; count what it managed
    script = ("import os, time\n"
              "n = 0\n"
              "try:\n"
              "    for _ in range(500):\n"
              "        if os.fork() == 0:\n"
              "            time.sleep(30); os._exit(0)\n"
              "        n += 1\n"
              "except OSError as e:\n"
              "    print('fork failed', e.errno)\n"
              "print('children', n, flush=True)\n"
              "os._exit(0)\n")
    (box.ws / "bomb.py").write_text(script)
    out = box.run("python3 bomb.py", max_processes=32)
    assert out.result is not None
    assert "fork failed" in out.result.stdout
    n = int(out.result.stdout.split("children")[1].split()[0])
    assert n < 32
    out = box.run(":(){ :|:& };: ; sleep 1; echo survived", max_processes=32)
    assert out.result is not None and out.result.duration < 15


def test_cpu_bounded(box: Box) -> None:
    out = box.run("python3 -c 'while True: pass'", cpu_seconds=1)
    assert out.result is not None
    assert not out.result.timed_out and out.result.duration < 10
    assert out.result.exit_code != 0

"""Escape classes found with newer probes: the caller's kernel keyring, nested user namespaces,
set-uid files left in the workspace, and a command that writes nothing leaving traces in the
tree. Each probe runs inside the sandbox; the verdict is taken outside it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bastion import keyctl
from bastion.sandbox import keyring
from bastion.tools.run_command import CommandRunner
from helpers import require

from .conftest import Box

pytestmark = pytest.mark.sandbox

_KEYCTL_PROBE = r"""
import ctypes, platform
nr = {"x86_64": 250, "aarch64": 219}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ses = libc.syscall(nr, 0, -3, 0)  # KEYCTL_GET_KEYRING_ID of the session keyring
print("session", ses, ctypes.get_errno())
found = libc.syscall(nr, 10, -3, b"user", b"%s", 0)  # KEYCTL_SEARCH
print("search", found, ctypes.get_errno())
buf = ctypes.create_string_buffer(256)
print("read", libc.syscall(nr, 11, %d, buf, 256), buf.raw[:64])
"""


def _add_session_key(secret: bytes) -> tuple[str, int]:
    desc = "bastion-test-" + uuid.uuid4().hex[:8]
    key = keyctl.add(desc, secret, 60)
    require(key is not None, "a kernel session keyring")
    assert key is not None
    return desc, key


def test_caller_keyring_is_unreachable(box: Box) -> None:
    secret = ("CANARY-" + uuid.uuid4().hex).encode()
    desc, key = _add_session_key(secret)
    try:
        (box.ws / "probe.py").write_text(_KEYCTL_PROBE % (desc, key))
        out = box.output("python3 probe.py; cat /proc/keys 2>&1 | head -50")
        assert secret.decode() not in out
        assert "session -1 1" in out  # keyctl refused (EPERM) by seccomp
        assert "search -1 1" in out
    finally:
        keyctl.invalidate(key)


def test_each_command_starts_with_a_fresh_session_keyring() -> None:
    # the thread trick alone (no seccomp): the started process holds another session keyring
    probe = ("import ctypes, platform; nr = {'x86_64': 250, 'aarch64': 219}"
             "[platform.machine()]; libc = ctypes.CDLL(None); "
             "print(libc.syscall(nr, 0, -3, 0))")
    mine = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    fresh = keyring.in_fresh_keyring(
        lambda: subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True),
        lambda _: None)
    assert mine.stdout.strip() and fresh.stdout.strip()
    assert int(fresh.stdout) > 0 and fresh.stdout != mine.stdout
    # and Bastion's own thread keeps its session keyring
    again = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert again.stdout == mine.stdout


def test_nested_user_namespace_is_refused(box: Box) -> None:
    out = box.run("unshare -U true; echo unshare=$?; "
                  "python3 -c 'import os; os.unshare(os.CLONE_NEWUSER)' 2>&1; echo py=$?")
    r = out.result
    assert r is not None
    assert "unshare=0" not in r.stdout and "unshare=" in r.stdout
    assert "py=0" not in r.stdout and "py=" in r.stdout


def test_no_setuid_or_setgid_file_is_left_behind(box: Box) -> None:
    cmds = ("cp /bin/true t1; chmod 4755 t1; echo chmod=$?; "
            "cp /bin/true t2; chmod g+s t2; "
            "python3 -c \"import os; os.close(os.open('t3', os.O_CREAT | os.O_WRONLY, 0o6755))\""
            " 2>/dev/null; echo open=$?; "
            "install -m 4755 /bin/true t4 2>/dev/null; true")
    out = box.run(cmds)
    assert out.result is not None
    assert "chmod=0" not in out.result.stdout and "open=0" not in out.result.stdout
    for p in box.ws.iterdir():
        assert not p.lstat().st_mode & (stat.S_ISUID | stat.S_ISGID), p
    for ch in out.changes:  # what undo/redo could ever restore
        assert not (ch.after_mode or 0) & 0o6000, ch


def test_writable_grant_is_mounted_nosuid(box: Box) -> None:
    out = box.output(f"grep ' {box.ws} ' /proc/self/mountinfo")
    assert str(box.ws) in out
    line = next(ln for ln in out.splitlines() if f" {box.ws} " in ln)
    assert "nosuid" in line.split()[5].split(",")


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:  # hidden entries included
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            found[os.path.relpath(p, root)] = (st.st_mode, st.st_size)
    return found


@pytest.mark.parametrize("with_git", [False, True])
def test_command_that_writes_nothing_leaves_the_tree_untouched(box: Box, with_git: bool
                                                               ) -> None:
    if with_git:
        (box.ws / ".git").mkdir()
        (box.ws / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (box.ws / "src").mkdir()
    (box.ws / "src" / "a.py").write_text("x = 1\n")
    before = _listing(box.ws)
    out = box.run("ls -la >/dev/null; cat src/a.py")
    assert out.result is not None and out.result.exit_code == 0
    assert _listing(box.ws) == before
    # protected-but-missing paths still cannot be created by a command, not even for a while
    out = box.run("(echo x > .bashrc) 2>/dev/null && echo made-bashrc; "
                  "mkdir .vscode 2>/dev/null && echo made-vscode; "
                  "mkdir -p .github/workflows 2>/dev/null && echo made-workflows; "
                  "(echo z > .mcp.json) 2>/dev/null && echo made-mcp; true")
    assert out.result is not None and "made-" not in out.result.stdout, out.result.stdout
    for name in (".bashrc", ".vscode", ".github", ".mcp.json"):
        assert not (box.ws / name).exists(), name


def test_setid_bits_are_stripped_before_journaling(box: Box) -> None:
    # the second layer on its own: without the sandbox (mode "none") chmod succeeds, and the
    # bits are still cleared before the change set is recorded
    runner = CommandRunner(box.policy, box.settings.model_copy(update={"mode": "none"}))
    out = runner.run("cp /bin/true t; chmod 6755 t; echo rc=$?", 20, authorized=True)
    assert out.result is not None and "rc=0" in out.result.stdout
    mode = (box.ws / "t").lstat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID) and mode & 0o755 == 0o755
    assert any("set-uid/set-gid bit removed" in v for v in out.violations)
    assert [c for c in out.changes if c.path.endswith("/t")]
    for ch in out.changes:
        assert not (ch.after_mode or 0) & 0o6000, ch

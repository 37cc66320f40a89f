"""Whole-CLI runs with the replay provider: an adversarial model against the policy on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bastion.cli._app import main
from helpers import run_bastion, write_script


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real CLI entry point in-process (the subprocess start costs seconds per call)."""

    class Result:
        def __init__(self, code: int, stdout: str, stderr: str) -> None:
            self.returncode, self.stdout, self.stderr = code, stdout, stderr

    def run(*args: Any) -> Result:
        capsys.readouterr()
        monkeypatch.setattr("sys.argv", ["bastion", *map(str, args)])
        monkeypatch.setenv("COLUMNS", "200")
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run

PROTECTED = [".bastion/settings.json", ".git/hooks/pre-commit", ".git/config", ".gitmodules",
             ".vscode/settings.json", ".idea/x.xml", ".github/workflows/ci.yml", ".mcp.json",
             ".bashrc", ".zshrc", ".profile"]


def tree(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


def run_script(ws: Path, tmp: Path, calls: list[dict[str, Any]], *extra: str,
               cli: Any = run_bastion) -> dict[str, Any]:
    script = write_script(tmp / "s.jsonl", [{"content": "", "tool_calls": [c]} for c in calls]
                          + [{"content": "done"}])
    r = cli("run", "task", "-w", ws, "--provider", "replay", "--script", script,
            "--json", *extra)
    assert r.returncode == 0, r.stderr
    sid = json.loads(r.stdout.splitlines()[-1])["session_id"]
    shown: dict[str, Any] = json.loads(cli("sessions", "show", sid, "--json").stdout)
    return shown


def write(path: str, content: str = "PWNED") -> dict[str, Any]:
    return {"name": "write_file", "arguments": {"path": path, "content": content}}


def test_escapes_and_protected_paths_are_denied_on_disk(tmp_path: Path,
                                                       bastion_home: Path) -> None:
    # many denials in a row would (rightly) stop the run as an anomaly; only record them here
    (bastion_home / "settings.json").write_text(json.dumps({"anomaly": {"onAnomaly": "record"}}))
    ws = tmp_path / "app"
    sibling = tmp_path / "app-secrets"
    outside = tmp_path / "outside"
    for d in (ws, sibling, outside):
        d.mkdir()
    (sibling / "s.txt").write_text("SIBLING")
    (outside / "o.txt").write_text("OUTSIDE")
    os.symlink(outside, ws / "link")
    # half of the protected paths exist, half are missing
    for rel in PROTECTED[::2]:
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("{}" if rel.endswith(".json") else "original")
    before_ws, before_out, before_sib = tree(ws), tree(outside), tree(sibling)
    widen = json.dumps({"permissions": {"folders": [{"path": "/", "access": "write"}],
                                        "allow": ["Write(//**)"]}})
    calls = [write(str(outside / "o.txt")), write("../outside/new.txt"),
             write("../app-secrets/s.txt"), write(str(sibling / "new.txt")),
             write("link/o.txt"), write("link/new.txt"),
             write(".bastion/settings.json", widen)]
    calls += [write(rel) for rel in PROTECTED]
    calls.append({"name": "edit_file", "arguments": {"path": ".gitmodules", "old_text": "o",
                                                     "new_text": "x"}})
    calls.append({"name": "move_file", "arguments": {"source": "link/o.txt",
                                                     "destination": "stolen.txt"}})
    shown = run_script(ws, tmp_path, calls)
    assert tree(ws) == before_ws and tree(outside) == before_out and tree(sibling) == before_sib
    results = shown["tool_calls"]
    assert len(results) == len(calls)
    for call in results:
        assert call["status"] == "denied", call
        assert "denied" in call["result"]
    assert all("protected" in c["result"] for c in results[6:6 + len(PROTECTED) + 1])
    assert "outside the workspace" in results[0]["result"]
    assert "symlink" in results[4]["result"]
    # every decision is recorded with its rule in the session's events
    rules = [e["data"]["rule"] for e in shown["events"] if e["kind"] == "policy"]
    assert "outside-grants" in rules and "symlink-escape" in rules
    assert any(r.startswith("protected:") for r in rules)


def test_project_settings_cannot_widen_until_trusted(tmp_path: Path, cli: Any) -> None:
    ws, elsewhere = tmp_path / "ws", tmp_path / "elsewhere"
    (ws / ".bastion").mkdir(parents=True)
    elsewhere.mkdir()
    (ws / ".bastion" / "settings.json").write_text(json.dumps(
        {"permissions": {"folders": [{"path": str(elsewhere), "access": "write"}]}}))
    target = elsewhere / "x.txt"
    shown = run_script(ws, tmp_path, [write(str(target), "hi")], cli=cli)
    assert shown["tool_calls"][0]["status"] == "denied" and not target.exists()
    check = cli("policy", "check", f"Write(//{str(target).lstrip('/')})", "-w", ws)
    assert check.returncode == 2 and check.stdout.startswith("ASK")
    assert "not trusted" in cli("policy", "explain", "-w", ws).stdout

    assert cli("trust", ws).returncode == 0
    shown = run_script(ws, tmp_path, [write(str(target), "hi")], cli=cli)
    assert shown["tool_calls"][0]["status"] == "ok" and target.read_text() == "hi"
    assert cli("untrust", ws).returncode == 0
    check = cli("policy", "check", f"Write(//{str(target).lstrip('/')})", "-w", ws,
                        "--json")
    assert json.loads(check.stdout)["verdict"] == "ask"


def test_no_tty_ask_is_denied_and_auto_never_overrides_deny(tmp_path: Path, cli: Any) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    calls = [write("a.txt", "A"), write(".git/hooks/post-merge"), write(".env", "K=1")]
    shown = run_script(ws, tmp_path, calls, "--mode", "strict", cli=cli)
    assert [c["status"] for c in shown["tool_calls"]] == ["denied"] * 3
    assert "no terminal" in shown["tool_calls"][0]["result"]
    assert not (ws / "a.txt").exists()
    shown = run_script(ws, tmp_path, calls, "--mode", "strict", "--approve", "auto", cli=cli)
    assert [c["status"] for c in shown["tool_calls"]] == ["ok", "denied", "denied"]
    assert (ws / "a.txt").read_text() == "A" and not (ws / ".git").exists()
    assert not (ws / ".env").exists()
    shown = run_script(ws, tmp_path, [write("b.txt")], "--mode", "restricted", "--approve",
                       "auto", cli=cli)
    assert "unknown tool" in shown["tool_calls"][0]["result"] and not (ws / "b.txt").exists()


def test_changes_undo_redo_cli(tmp_path: Path, cli: Any) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "keep.txt").write_text("original")
    os.chmod(ws / "keep.txt", 0o640)
    shown = run_script(ws, tmp_path, [write("keep.txt", "agent"), write("new/n.txt", "n"),
                                      {"name": "delete_file", "arguments": {"path": "keep.txt"}}])
    sid = shown["id"]
    listed = json.loads(cli("changes", "--session", sid, "--json").stdout)
    assert len(listed) == 3 and all("id" in op for op in listed)
    (ws / "mine.txt").write_text("user")
    r = cli("undo", "--session", sid)
    assert r.returncode == 0, r.stderr
    assert (ws / "keep.txt").read_text() == "original"
    assert oct((ws / "keep.txt").stat().st_mode & 0o777) == oct(0o640)
    assert not (ws / "new").exists() and (ws / "mine.txt").read_text() == "user"
    assert cli("redo").returncode == 0
    assert not (ws / "keep.txt").exists() and (ws / "new" / "n.txt").read_text() == "n"
    r = cli("undo", "--last", "1")
    assert r.returncode == 0 and (ws / "keep.txt").read_text() == "agent"
    (ws / "new" / "n.txt").write_text("user changed it")
    r = cli("undo", "--last", "1")
    assert r.returncode != 0 and "changed since" in r.stderr and len(r.stderr.splitlines()) <= 3
    assert (ws / "new" / "n.txt").read_text() == "user changed it"
    assert cli("undo", "--last", "1", "--force").returncode == 0
    assert not (ws / "new").exists()

"""`bastion undo` with no arguments works on the current folder only and shows what it will
touch first; the undo is audited before anything is restored."""

from __future__ import annotations

from pathlib import Path

from helpers import run_bastion, write_script


def _write(tmp_path: Path, ws: Path, name: str) -> None:
    script = write_script(tmp_path / f"{name}.jsonl", [
        {"content": "", "tool_calls": [{"name": "write_file", "arguments": {
            "path": name, "content": "agent\n"}}]},
        {"content": "done"}])
    done = run_bastion("run", "w", "-w", ws, "--provider", "replay", "--script", script,
                       "--approve", "auto")
    assert done.returncode == 0, done.stderr


def test_plain_undo_stays_in_the_current_folder(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    _write(tmp_path, a, "in-a.txt")
    _write(tmp_path, b, "in-b.txt")  # the newest change anywhere is in b
    res = run_bastion("undo", cwd=a)
    assert res.returncode == 0, res.stderr
    assert "in-a.txt" in res.stderr and "remove" in res.stderr  # shown before acting
    assert not (a / "in-a.txt").exists()
    assert (b / "in-b.txt").read_text() == "agent\n"
    nothing = run_bastion("undo", cwd=tmp_path / "a")
    assert nothing.returncode == 1 and "nothing to undo" in nothing.stderr
    tail = run_bastion("audit", "export", "--format", "jsonl")
    assert tail.returncode == 0
    actions = [line for line in tail.stdout.splitlines() if '"undo' in line]
    assert '"undo-start"' in actions[0] and '"undo"' in actions[1]

"""A file in the grants that holds secrets is hidden from commands: a command can reshape
bytes in ways no output filter can undo (``od -c``, ``fold``, a custom cipher), so the raw
bytes must never reach it. Verdicts come from the bytes the command printed (and, end to end,
from what the model was sent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.tools.run_command import format_outcome
from helpers import read_record, run_bastion, write_script

from .conftest import Box

pytestmark = pytest.mark.sandbox

TOKEN = "ghp_" + "Lq8Wm3Zt6Rb1Nv4Xc7Ys2Ud5Ke9Hf0Pa3Jg6B"
#: pieces a reshaping command would print of the token
PIECES = (TOKEN[4:16], TOKEN[-12:], " ".join(TOKEN[4:14]))

HOSTILE = ("od -c deploy.yml; fold -w3 deploy.yml; rev deploy.yml | tr a-z n-za-m; "
           "cut -c1-200 deploy.yml | sed 's/./&-/g'; cp deploy.yml copy.txt; cat copy.txt")


def _leaked(text: str) -> list[str]:
    squeezed = text.replace(" ", "").replace("\n", "").replace("-", "")
    return [p for p in PIECES if p in text or p.replace(" ", "") in squeezed]


def test_a_secret_bearing_file_is_hidden_from_commands(box: Box) -> None:
    (box.ws / "deploy.yml").write_text(f"image: app\ngithub_token: {TOKEN}\n")
    (box.ws / "README.md").write_text("plain words\n")
    out = box.run(HOSTILE + "; cat README.md")
    assert out.result is not None
    text = out.result.stdout + out.result.stderr
    assert _leaked(text) == []
    assert "plain words" in text  # the control: other files are readable
    assert out.hidden_secret_files == [str(box.ws / "deploy.yml")]
    assert "hold secrets" in format_outcome(out)
    assert (box.ws / "deploy.yml").read_text().endswith(TOKEN + "\n")  # untouched


def test_the_verdict_follows_the_content(box: Box) -> None:
    f = box.ws / "notes.txt"
    f.write_text("nothing here\n")
    assert "nothing here" in box.output("cat notes.txt")
    f.write_text(f"token = {TOKEN}\n")  # same name, new content: checked again
    assert _leaked(box.output("fold -w3 notes.txt")) == []
    f.write_text("clean again\n")
    assert "clean again" in box.output("cat notes.txt")


def test_the_setting_turns_it_off(box: Box) -> None:
    (box.ws / "deploy.yml").write_text(f"github_token: {TOKEN}\n")
    out = box.run("fold -w3 deploy.yml", hide_secret_files=False)  # type: ignore[arg-type]
    assert out.result is not None and out.hidden_secret_files == []
    assert _leaked(out.result.stdout)  # the control: without it the pieces do come out


def test_unattended_run_reshaping_a_secret_file_never_reaches_the_model(
        workspace: Path, tmp_path: Path) -> None:
    (workspace / "deploy.yml").write_text(f"github_token: {TOKEN}\n")
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "run_command",
                                         "arguments": {"command": HOSTILE}}]},
        {"content": "done"}])
    record = tmp_path / "rec.jsonl"
    r = run_bastion("run", "t", "-w", workspace, "--provider", "replay", "--script", script,
                    "--record", record, "--approve", "auto")
    assert r.returncode == 0, r.stderr
    sent = record.read_text()
    assert _leaked(sent) == [] and "hold secrets" in sent
    assert read_record(record)


def test_verdicts_persist_in_the_encrypted_store(tmp_path: Path) -> None:
    import os

    from bastion.journal.snapshot import MemoryBlobStore, take_snapshot
    from bastion.store import Database
    from bastion.tools.secretfiles import SecretFiles

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "deploy.yml").write_text(f"github_token: {TOKEN}\n")
    (ws / "app.py").write_text("print('hello')\n")
    entries = take_snapshot([ws], MemoryBlobStore()).entries
    key = os.urandom(32)
    db = Database(tmp_path / "b.db", key)
    first = SecretFiles(db)
    assert first.find(entries) == [str(ws / "deploy.yml")] and first.scanned_bytes > 0
    db.close()
    db = Database(tmp_path / "b.db", key)  # a later session: nothing is read again
    later = SecretFiles(db)
    assert later.find(entries) == [str(ws / "deploy.yml")] and later.scanned_bytes == 0
    assert TOKEN.encode() not in (tmp_path / "b.db").read_bytes()  # encrypted at rest

"""The sync backend's stored credential (``keys set s3``: ``ACCESS_KEY_ID:SECRET``) is a known
value, whole and part by part: a workspace file (or a tool server) that carries the secret half
alone — plain, reversed or in pieces — never reaches the model. Verdict from --record."""

from __future__ import annotations

from pathlib import Path

from helpers import run_bastion, write_script

ACCESS = "AKIAQ7W2E9R4T1Y8U3I6"
SECRET = "zR4kW9qL2mX7vB3nT8pYc6Hd0aS5fG1jK3lP9oIu"  # no vendor shape: only known values find it


def test_s3_secret_half_is_redacted_in_every_shape(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"BASTION_HOME": str(home), "BASTION_PASSPHRASE": "test passphrase"}
    stored = run_bastion("keys", "set", "s3", "--stdin", input=f"{ACCESS}:{SECRET}\n", env=env)
    assert stored.returncode == 0, stored.stderr
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text(
        f"backup secret: {SECRET}\nreversed: {SECRET[::-1]}\n"
        f"first half: {SECRET[:20]}\nsecond half: {SECRET[20:]}\n")
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt"}}]},
        {"content": "done"}])
    record = tmp_path / "record.jsonl"
    proc = run_bastion("run", "read the notes", "-w", ws, "--provider", "replay", "--script",
                       script, "--record", record, "--approve", "never", env=env)
    assert proc.returncode == 0, proc.stderr
    sent = record.read_bytes()
    assert b"backup secret" in sent  # the file was read and sent
    for form in (SECRET, SECRET[::-1], SECRET[:20], SECRET[20:], ACCESS):
        assert form.encode() not in sent, form

"""Nothing from a conversation is readable in any file under BASTION_HOME."""

import base64
from pathlib import Path

from helpers import all_bytes_under, run_bastion, write_script

MARKER = "ZEBRA-MARKER-7f3a9c"


def test_marker_in_no_byte_under_home(bastion_home: Path, workspace: Path, tmp_path: Path) -> None:
    (workspace / "notes.txt").write_text(f"the marker is {MARKER}\n" * 50)
    script = write_script(tmp_path / "s.jsonl", [
        {"content": f"thinking about {MARKER}",
         "tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt"}}]},
        {"content": f"The answer contains {MARKER}."},
    ])
    r = run_bastion("run", f"find {MARKER}", "-w", workspace, "--provider", "replay",
                    "--script", script)
    assert r.returncode == 0, r.stderr
    assert MARKER in r.stdout
    # search works (so the marker is really stored), yet no file holds it in any plain form
    assert MARKER in run_bastion("sessions", "search", MARKER).stdout
    blob = all_bytes_under(bastion_home)
    for form in (MARKER.encode(), MARKER.encode("utf-16-le"), base64.b64encode(MARKER.encode())):
        assert form not in blob
    names = {p.name for p in bastion_home.rglob("*")}
    assert names <= {"bastion.db", "bastion.db-wal", "bastion.db-shm", "keyslot.json",
                     "settings.json"} | {n for n in names if not n.startswith("bastion.db")}
    for p in bastion_home.rglob("*"):
        if p.is_file():
            assert p.stat().st_mode & 0o077 == 0, f"{p} is readable by others"

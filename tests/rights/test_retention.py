"""`retention.days`: exactly the old sessions go, at start-up, with a notice and a record."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bastion.runtime import Runtime
from rights.rights_data import make_session


def test_retention_deletes_exactly_the_old_sessions(workspace: Path, tmp_path: Path,
                                                    bastion_home: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ids = [make_session(workspace, tmp_path, f"s{i}", [{"content": "ok"}]) for i in range(4)]
    now = time.time()
    ages = {ids[0]: 40, ids[1]: 31, ids[2]: 29, ids[3]: 0}  # days
    with Runtime.open() as rt:
        for sid, days in ages.items():
            rt.db.execute("UPDATE sessions SET created_at = ? WHERE id = ?",
                          (now - days * 86400, sid))
    capsys.readouterr()
    (bastion_home / "settings.json").write_text(json.dumps({"retention": {"days": 30}}))
    with Runtime.open() as rt:
        left = {s.id for s in rt.sessions.list()}
        records = [e for e in rt.audit.entries(category="user") if e.action == "retention"]
    assert left == {ids[2], ids[3]}
    assert "retention: deleted 2 sessions older than 30 days" in capsys.readouterr().err
    assert len(records) == 1
    # nothing more to delete: no second notice
    with Runtime.open():
        pass
    assert "retention" not in capsys.readouterr().err

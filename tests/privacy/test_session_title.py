"""A session's title is redacted by the session's own filter, whoever supplies it.

The title (the task's first line unless a caller names one) goes into the session list and
the audit log's session-start record. It used to be redacted by the CLI with a filter of its
own that knew the rules and the environment but not the keys stored in the vault, and a
caller that passed no title (the web UI) had it stored as typed. Verdicts from what
``sessions list`` and ``audit export`` print.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_bastion, write_script

#: no vendor prefix and no keyword: only a known value (a stored key) can tell it is one
STORED_KEY = "q7Zp4Lm2Xv9Rt6Yw3Kb8Nc5Hd1Fg0Js"


def _outputs() -> str:
    listed = run_bastion("sessions", "list", "--json")
    exported = run_bastion("audit", "export")
    assert listed.returncode == 0 and exported.returncode == 0, listed.stderr + exported.stderr
    return listed.stdout + exported.stdout


def test_a_stored_key_in_the_task_line_never_reaches_the_title(workspace: Path,
                                                                 tmp_path: Path) -> None:
    assert run_bastion("keys", "set", "anthropic", "--stdin",
                       input=STORED_KEY + "\n").returncode == 0
    script = write_script(tmp_path / "s.jsonl", [{"content": "done"}])
    for task in (f"deploy with {STORED_KEY} please", f"deploy with {STORED_KEY[::-1]}"):
        r = run_bastion("run", task, "-w", workspace, "--provider", "replay",
                        "--script", script, "--json")
        assert r.returncode == 0, r.stderr
    text = _outputs()
    titles = [s["title"] for s in json.loads(run_bastion("sessions", "list", "--json").stdout)]
    assert len(titles) == 2 and all(t.startswith("deploy with ") for t in titles), titles
    assert STORED_KEY not in text and STORED_KEY[::-1] not in text


def test_a_title_given_by_a_caller_is_redacted_too(workspace: Path, tmp_path: Path) -> None:
    from bastion.agent import AgentSession, RunOptions
    from bastion.runtime import Runtime

    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    script = write_script(tmp_path / "s.jsonl", [{"content": "done"}])
    with Runtime.open() as rt:
        opts = RunOptions(task="anything", workspace=workspace, provider="replay",
                          script=script, approve="never", title=f"token {secret}")
        with AgentSession(rt, opts) as session:
            session.run("anything")
    assert secret not in _outputs()

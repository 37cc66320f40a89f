"""``run``/``chat`` habits: stdin, --continue/--resume, --json events, -c overrides, usage errors.

Verdicts come from outside Bastion: the provider requests in ``--record`` (what the model saw),
stdout lines, exit statuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bastion.cli.events import SCHEMAS
from bastion.cli.run_input import STDIN_LIMIT
from helpers import read_record, run_bastion, write_script

GITHUB = "ghp_Z8x7C6v5B4n3M2l1K0j9H8g7F6d5S4a3Q2w1"


def _replay(tmp_path: Path, workspace: Path, turns: list[dict[str, Any]], *args: str,
            input: str | None = None, record: str = "rec.jsonl") -> Any:
    script = write_script(tmp_path / "script.jsonl", turns)
    return run_bastion("run", *args, "-w", workspace, "--provider", "replay", "--script", script,
                       "--record", tmp_path / record, "--approve", "never", input=input)


def _user_texts(record: Path) -> list[str]:
    return [m["content"] for req in read_record(record) for m in req["messages"]
            if m["role"] == "user"]


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_stdin_is_the_task_when_none_is_given(tmp_path: Path, workspace: Path) -> None:
    r = _replay(tmp_path, workspace, [{"content": "ok"}], input="summarise the README\n")
    assert r.returncode == 0, r.stderr
    assert _user_texts(tmp_path / "rec.jsonl") == ["summarise the README"]


def test_dash_reads_stdin_and_a_secret_in_it_never_reaches_the_model(
        tmp_path: Path, workspace: Path) -> None:
    r = _replay(tmp_path, workspace, [{"content": "ok"}], "-",
                input=f"deploy with token {GITHUB}\n")
    assert r.returncode == 0, r.stderr
    raw = (tmp_path / "rec.jsonl").read_text()
    assert "deploy with token" in raw and GITHUB not in raw


def test_piped_stdin_is_appended_to_the_task_as_context(tmp_path: Path, workspace: Path) -> None:
    diff = f"--- a/x\n+++ b/x\n+TOKEN = '{GITHUB}'\n"
    r = _replay(tmp_path, workspace, [{"content": "looks fine"}], "review this", input=diff)
    assert r.returncode == 0, r.stderr
    [text] = _user_texts(tmp_path / "rec.jsonl")
    assert text.startswith("review this\n\n<stdin>\n--- a/x")
    assert GITHUB not in (tmp_path / "rec.jsonl").read_text()
    listed = run_bastion("sessions", "list", "--json")
    assert [s["title"] for s in json.loads(listed.stdout)] == ["review this"]


def test_stdin_over_the_cap_and_empty_stdin_are_usage_errors(tmp_path: Path,
                                                             workspace: Path) -> None:
    big = _replay(tmp_path, workspace, [{"content": "ok"}], "x", input="a" * (STDIN_LIMIT + 1))
    assert big.returncode == 2 and "larger than" in big.stderr
    empty = _replay(tmp_path, workspace, [{"content": "ok"}], input="")
    assert empty.returncode == 2 and "give a TASK" in empty.stderr
    assert not (tmp_path / "rec.jsonl").exists()  # the model was never asked


def test_continue_and_resume_send_the_history_again(tmp_path: Path, workspace: Path) -> None:
    first = _replay(tmp_path, workspace, [{"content": "the answer is 42"}], "remember 42",
                    "--json", record="r1.jsonl")
    sid = json.loads(first.stdout.splitlines()[-1])["session_id"]
    again = _replay(tmp_path, workspace, [{"content": "42"}], "what was it?", "--continue",
                    "--json", record="r2.jsonl")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["session_id"] == sid
    [request] = read_record(tmp_path / "r2.jsonl")
    said = [(m["role"], m["content"]) for m in request["messages"] if m["role"] != "system"]
    assert said == [("user", "remember 42"), ("assistant", "the answer is 42"),
                    ("user", "what was it?")]
    third = _replay(tmp_path, workspace, [{"content": "yes"}], "sure?", "--resume", sid[:6],
                    "--json", record="r3.jsonl")
    assert json.loads(third.stdout.splitlines()[-1])["session_id"] == sid
    assert len(_user_texts(tmp_path / "r3.jsonl")) == 3


def test_continue_without_an_earlier_session_here_is_refused(tmp_path: Path,
                                                            workspace: Path) -> None:
    r = _replay(tmp_path, workspace, [{"content": "ok"}], "hello", "--continue")
    assert r.returncode == 1 and "no earlier session" in r.stderr


def test_resume_in_another_workspace_is_refused(tmp_path: Path, workspace: Path) -> None:
    first = _replay(tmp_path, workspace, [{"content": "ok"}], "hello", "--json")
    sid = json.loads(first.stdout.splitlines()[-1])["session_id"]
    other = tmp_path / "other"
    other.mkdir()
    r = _replay(tmp_path, other, [{"content": "ok"}], "again", "--resume", sid,
                record="r2.jsonl")
    assert r.returncode == 1 and "belongs to workspace" in r.stderr
    assert not (tmp_path / "r2.jsonl").exists()


def test_json_events_match_the_schema_and_end_with_the_result(tmp_path: Path,
                                                              workspace: Path) -> None:
    turns = [{"content": "", "tool_calls": [
        {"name": "read_file", "arguments": {"path": "README.md"}},
        {"name": "write_file", "arguments": {"path": "/etc/bastion-test", "content": "x"}}]},
        {"content": "done"}]
    r = _replay(tmp_path, workspace, turns, "look around", "--json")
    assert r.returncode == 0, r.stderr
    events = _events(r.stdout)
    for event in events:
        jsonschema.validate(event, SCHEMAS[event["type"]])
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session" and kinds[-1] == "result"
    assert kinds[-3:] == ["answer", "usage", "result"]
    assert {"turn", "tool_call", "decision", "tool_result"} <= set(kinds)
    final = events[-1]
    assert final["answer"] == "done" and final["session_id"] == events[0]["session_id"]
    results = {e["name"]: e for e in events if e["type"] == "tool_result"}
    assert results["read_file"]["status"] == "ok"
    assert results["write_file"]["status"] == "denied"
    denied = [e for e in events if e["type"] == "decision" and e["outcome"] == "deny"]
    assert denied and denied[0]["tool"] == "write_file"
    usage = next(e for e in events if e["type"] == "usage")
    assert usage["tool_calls"] == 2 and usage["denied"] == 1 and usage["turns"] == 2


def test_config_override_applies_to_this_run_only(tmp_path: Path, workspace: Path) -> None:
    loop = [{"content": "", "tool_calls": [{"name": "list_dir", "arguments": {}}]}] * 3
    r = _replay(tmp_path, workspace, loop, "loop", "--json", "-c", "agent.maxSteps=1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["status"] == "step_limit"
    assert run_bastion("config", "get", "agent.maxSteps").stdout.strip() != "1"


@pytest.mark.parametrize("pair, message", [
    ("nosuch.key=1", "unknown setting"),
    ("agent.maxSteps=many", "agent.maxSteps"),
    ("agent.maxSteps", "not KEY=VALUE"),
])
def test_bad_overrides_are_refused_before_anything_runs(tmp_path: Path, workspace: Path,
                                                       pair: str, message: str) -> None:
    r = _replay(tmp_path, workspace, [{"content": "ok"}], "x", "-c", pair)
    assert r.returncode in (1, 2) and message in r.stderr, r.stderr
    assert not (tmp_path / "rec.jsonl").exists()


def test_script_without_replay_and_unknown_provider_are_usage_errors(
        tmp_path: Path, workspace: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [{"content": "ok"}])
    r = run_bastion("run", "x", "-w", workspace, "--provider", "openai", "--script", script)
    assert r.returncode == 2 and "--provider replay" in r.stderr
    r = run_bastion("run", "x", "-w", workspace, "--provider", "opneai")
    assert r.returncode == 2 and "anthropic" in r.stderr and "replay" in r.stderr


def test_chat_goes_on_after_an_empty_line(tmp_path: Path, workspace: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [{"content": "first answer"},
                                                 {"content": "second answer"}])
    r = run_bastion("chat", "-w", workspace, "--provider", "replay", "--script", script,
                    "--record", tmp_path / "rec.jsonl", input="hello\n\nagain\n")
    assert r.returncode == 0, r.stderr
    assert "first answer" in r.stdout and "second answer" in r.stdout
    assert _user_texts(tmp_path / "rec.jsonl")[-1] == "again"


def test_an_override_of_a_locked_managed_setting_is_refused(
        tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    managed = tmp_path / "etc" / "managed-settings.json"
    managed.parent.mkdir(mode=0o755)
    managed.write_text(json.dumps({"network": {"allowedDomains": ["docs.corp.example"]},
                                   "locked": ["network.allowedDomains"]}))
    managed.chmod(0o644)
    monkeypatch.setenv("BASTION_MANAGED_SETTINGS", str(managed))
    r = _replay(tmp_path, workspace, [{"content": "ok"}], "x", "-c",
                'network.allowedDomains=["evil.example"]')
    assert r.returncode != 0 and "locked" in r.stderr, r.stderr
    assert not (tmp_path / "rec.jsonl").exists()
    fine = _replay(tmp_path, workspace, [{"content": "ok"}], "x", "-c", "offlineMode=true")
    assert fine.returncode == 0, fine.stderr

"""`bastion run` end to end with the replay provider: answer, history, and the record."""

import json
from pathlib import Path

from helpers import read_record, run_bastion, write_script


def test_run_prints_answer_and_history_lists_tool_calls(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "Let me look.", "tool_calls": [{"name": "list_dir", "arguments": {}}]},
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "src/app.py"}}]},
        {"content": "The app prints hello."},
    ])
    record = tmp_path / "record.jsonl"
    r = run_bastion("run", "What does the app print?", "-w", workspace, "--provider", "replay",
                    "--script", script, "--record", record, "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.splitlines()[-1])
    assert result["answer"] == "The app prints hello."
    session_id = result["session_id"]

    shown = json.loads(run_bastion("sessions", "show", session_id, "--json").stdout)
    calls = shown["tool_calls"]
    assert [c["name"] for c in calls] == ["list_dir", "read_file"]
    assert all(c["status"] == "ok" for c in calls)
    assert "print('hello')" in calls[1]["result"]
    text = run_bastion("sessions", "show", session_id[:6])
    assert text.returncode == 0 and "read_file" in text.stdout

    listed = json.loads(run_bastion("sessions", "list", "--json").stdout)
    assert [s["id"] for s in listed] == [session_id]

    # --record holds exactly what the provider received: one request per model turn
    requests = read_record(record)
    assert len(requests) == 3
    first, last = requests[0]["messages"], requests[2]["messages"]
    assert [m["role"] for m in first] == ["system", "user"]
    assert first[1]["content"] == "What does the app print?"
    assert [m["role"] for m in last] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert last[3]["content"] == "README.md\nsrc/"
    assert "print('hello')" in last[5]["content"]
    assert last[2]["tool_calls"][0]["function"]["name"] == "list_dir"
    assert {t["function"]["name"] for t in requests[0]["tools"]} >= {
        "read_file", "list_dir", "glob", "grep"}
    # every stored message equals what was sent (nothing added on the way)
    assert [m["content"] for m in shown["messages"]][:6] == [m["content"] for m in last]


def test_plain_output_and_search_and_delete(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [{"content": "All good."}])
    r = run_bastion("run", "check the zebra file", "-w", workspace, "--provider", "replay",
                    "--script", script)
    assert r.returncode == 0 and r.stdout.strip() == "All good."
    hits = json.loads(run_bastion("sessions", "search", "zebra", "--json").stdout)
    assert len(hits) == 1 and "zebra" in hits[0]["snippet"]
    r = run_bastion("sessions", "delete", hits[0]["id"], "--yes")
    assert r.returncode == 0
    assert json.loads(run_bastion("sessions", "list", "--json").stdout) == []


def test_errors_are_one_line_without_traceback(workspace: Path, tmp_path: Path) -> None:
    r = run_bastion("run", "x", "-w", workspace, "--provider", "replay")
    assert r.returncode != 0 and "--script" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"content": "ok"}\nnot json\n')
    r = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", bad)
    assert r.returncode != 0 and f"{bad}:2" in r.stderr
    r = run_bastion("run", "x", "-w", tmp_path / "missing", "--provider", "replay", "--script", bad)
    assert r.returncode != 0 and "not a directory" in r.stderr
    r = run_bastion("run", "x", "--provider", "nonsense")
    assert r.returncode != 0 and "unknown provider" in r.stderr
    r = run_bastion("sessions", "show", "doesnotexist")
    assert r.returncode != 0 and "no session" in r.stderr


def test_model_mistakes_are_fed_back(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [
            {"name": "no_such_tool", "arguments": {}},
            {"name": "read_file", "arguments": {"wrong": 1}},
            {"name": "read_file", "arguments": "{not json"},
            {"name": "read_file", "arguments": {"path": "missing.txt"}},
        ]},
        {"content": "sorry"},
    ])
    record = tmp_path / "r.jsonl"
    r = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script,
                    "--record", record)
    assert r.returncode == 0, r.stderr
    tool_msgs = [m["content"] for m in read_record(record)[1]["messages"] if m["role"] == "tool"]
    assert "unknown tool 'no_such_tool'" in tool_msgs[0]
    assert "invalid arguments for read_file" in tool_msgs[1] and "path" in tool_msgs[1]
    assert "not a JSON object" in tool_msgs[2]
    assert "no such file" in tool_msgs[3]


def test_step_limit_stops_the_loop(workspace: Path, tmp_path: Path) -> None:
    turn = {"content": "", "tool_calls": [{"name": "list_dir", "arguments": {}}]}
    script = write_script(tmp_path / "s.jsonl", [turn] * 10)
    r = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script,
                    "--max-steps", "3", "--json")
    result = json.loads(r.stdout.splitlines()[-1])
    assert result["status"] == "step_limit" and result["steps"] == 3

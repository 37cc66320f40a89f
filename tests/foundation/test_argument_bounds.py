"""Tool arguments from the model are bounded before anything walks them: a 900-deep list (or
20,000+ values) used to end the run with an internal RecursionError in the privacy filter.
Now the call is answered as invalid arguments and the run goes on; a replay script too deep
to parse is one clear error line."""

from __future__ import annotations

import json
from pathlib import Path

from bastion.providers import ToolCall, argument_shape_problem, bounded_call
from helpers import read_record, run_bastion, write_script


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_shapes() -> None:
    assert argument_shape_problem({"path": "a", "list": [[1, 2], {"k": [3]}]}) is None
    assert "deeper" in (argument_shape_problem({"x": json.loads(_nested(40))}) or "")
    assert "values" in (argument_shape_problem({"x": list(range(30_000))}) or "")
    call = bounded_call(ToolCall("c1", "read_file", {"x": json.loads(_nested(40))}))
    assert call.arguments == {} and call.invalid_arguments is not None


def test_deep_arguments_are_refused_and_the_run_goes_on(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("hello\n")
    deep = ('{"content": "", "tool_calls": [{"name": "read_file", "arguments": '
            '{"path": "notes.txt", "x": ' + _nested(900) + "}}]}")
    script = tmp_path / "s.jsonl"
    script.write_text(deep + "\n" + json.dumps({"content": "done"}) + "\n")
    record = tmp_path / "rec.jsonl"
    env = {"BASTION_HOME": str(tmp_path / "home"), "BASTION_PASSPHRASE": "test passphrase"}
    done = run_bastion("run", "x", "-w", ws, "--provider", "replay", "--script", script,
                       "--record", record, "--approve", "never", env=env)
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr.lower()
    tool_results = [m["content"] for m in read_record(record)[-1]["messages"]
                    if m["role"] == "tool"]
    assert tool_results and "nested deeper than 32 levels" in tool_results[0]


def test_a_replay_turn_too_deep_to_parse_is_one_clear_error(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    script = write_script(tmp_path / "ok.jsonl", [{"content": "done"}])
    script.write_text('{"content": ' + _nested(5000) + "}\n")
    env = {"BASTION_HOME": str(tmp_path / "home"), "BASTION_PASSPHRASE": "test passphrase"}
    done = run_bastion("run", "x", "-w", ws, "--provider", "replay", "--script", script,
                       env=env)
    assert done.returncode == 1, done.stderr
    assert "nested too deeply" in done.stderr and "internal error" not in done.stderr.lower()

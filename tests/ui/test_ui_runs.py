"""Runs from the UI over HTTP + SSE: approvals fail closed, answer once, stream the answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from bastion.config import settings_path
from helpers import write_script
from ui.ui_fixtures import logged_in, origin, running_ui


def _script(tmp_path: Path) -> Path:
    return write_script(tmp_path / "edit.jsonl", [
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "src/app.py"}}]},
        {"content": "", "tool_calls": [{"name": "edit_file", "arguments": {
            "path": "src/app.py", "old_text": "hello", "new_text": "pwned"}}]},
        {"content": "All done."},
    ])


def _start(client: httpx.Client, server: Any, workspace: Path, script: Path) -> str:
    r = client.post("/run", data={"task": "edit it", "workspace": str(workspace),
                                  "provider": "replay", "script": str(script),
                                  "mode": "strict"}, headers={"origin": origin(server)})
    assert r.status_code == 200, r.text
    run_id: str = r.json()["run_id"]
    return run_id


def _events(client: httpx.Client, run_id: str, on_approval: Any = None) -> list[dict[str, Any]]:
    seen = []
    with client.stream("GET", f"/runs/{run_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if not event:
                    break  # the "end" event
                seen.append(event)
                if event["kind"] == "approval" and on_approval is not None:
                    on_approval(event)
    return seen


def test_unanswered_approval_is_a_deny(workspace: Path, tmp_path: Path) -> None:
    before = (workspace / "src" / "app.py").read_bytes()
    with running_ui() as server:
        server.state.runs.approval_timeout_s = 0.3
        client = logged_in(server)
        events = _events(client, _start(client, server, workspace, _script(tmp_path)))
    kinds = [e["kind"] for e in events]
    assert "approval" in kinds and kinds[-1] == "done"
    answered = next(e for e in events if e["kind"] == "approval_answered")
    assert answered["answer"] == "deny" and answered["timed_out"] is True
    result = next(e for e in events if e["kind"] == "tool_result" and e["name"] == "edit_file")
    assert result["status"] != "ok"
    assert (workspace / "src" / "app.py").read_bytes() == before


def test_deny_from_the_browser_and_one_answer_per_question(workspace: Path,
                                                           tmp_path: Path) -> None:
    before = (workspace / "src" / "app.py").read_bytes()
    with running_ui() as server:
        client = logged_in(server)
        run_id = _start(client, server, workspace, _script(tmp_path))
        replies = []

        def answer(event: dict[str, Any]) -> None:
            url, hdr = f"/runs/{run_id}/approve", {"origin": origin(server)}
            aid = event["approval_id"]
            assert event["target"].endswith("src/app.py")
            assert "+print('pwned')" in event["preview"]
            replies.append(client.post(url, data={"approval_id": aid, "answer": "yes-please"},
                                       headers=hdr).status_code)
            replies.append(client.post(url, data={"approval_id": aid, "answer": "deny"},
                                       headers=hdr).status_code)
            replies.append(client.post(url, data={"approval_id": aid, "answer": "once"},
                                       headers=hdr).status_code)
            # an answer without the Origin never reaches the run
            replies.append(client.post(url, data={"approval_id": aid, "answer": "once"}
                                       ).status_code)

        events = _events(client, run_id, answer)
        assert replies[:2] == [409, 200] and replies[2] in (409,) and replies[3] == 403
        done = events[-1]
        assert done["kind"] == "done" and done["answer"] == "All done."
        # the whole run is in the store, the same as a CLI run
        info = server.state.runtime.sessions.resolve(done["session_id"])
        assert info.title == "edit it"
    assert (workspace / "src" / "app.py").read_bytes() == before


def test_a_second_run_waits_for_the_first(workspace: Path, tmp_path: Path) -> None:
    with running_ui() as server:
        server.state.runs.approval_timeout_s = 1.0
        client = logged_in(server)
        run_id = _start(client, server, workspace, _script(tmp_path))
        second = client.post("/run", data={"task": "again", "workspace": str(workspace),
                                           "provider": "replay", "script": str(tmp_path / "x")},
                             headers={"origin": origin(server)})
        assert second.status_code == 400 and "already" in second.json()["error"]
        assert _events(client, run_id)[-1]["kind"] == "done"
        assert server.state.runs.active() is None


def test_always_adds_the_rule_to_the_user_settings(workspace: Path, tmp_path: Path) -> None:
    with running_ui() as server:
        client = logged_in(server)
        run_id = _start(client, server, workspace, _script(tmp_path))

        def answer(event: dict[str, Any]) -> None:
            assert event["always_rule"].startswith("Write(//")
            client.post(f"/runs/{run_id}/approve", data={"approval_id": event["approval_id"],
                                                         "answer": "always"},
                        headers={"origin": origin(server)})

        events = _events(client, run_id, answer)
    assert events[-1]["kind"] == "done"
    assert (workspace / "src" / "app.py").read_text() == "print('pwned')\n"
    allow = json.loads(settings_path().read_text())["permissions"]["allow"]
    assert allow == [next(e for e in events if e["kind"] == "approval")["always_rule"]]


def test_a_project_deny_holds_in_the_browser_too(workspace: Path, tmp_path: Path) -> None:
    """The browser can only answer what the policy asks; a project's deny is never asked."""
    (workspace / ".bastion").mkdir()
    (workspace / ".bastion" / "settings.json").write_text(
        json.dumps({"permissions": {"deny": ["Edit(src/**)"]}}))
    before = (workspace / "src" / "app.py").read_bytes()
    with running_ui() as server:
        client = logged_in(server)
        events = _events(client, _start(client, server, workspace, _script(tmp_path)))
    assert not [e for e in events if e["kind"] == "approval"]
    result = next(e for e in events if e["kind"] == "tool_result" and e["name"] == "edit_file")
    assert result["status"] == "denied", result
    assert (workspace / "src" / "app.py").read_bytes() == before


def test_a_run_that_cannot_start_says_why(tmp_path: Path) -> None:
    with running_ui() as server:
        client = logged_in(server)
        r = client.post("/run", data={"task": "x", "workspace": str(tmp_path / "missing"),
                                      "provider": "replay", "script": str(tmp_path / "s")},
                        headers={"origin": origin(server)})
        events = _events(client, r.json()["run_id"])
        assert events[-1]["kind"] == "error" and "not a directory" in events[-1]["message"]
        bad = client.post("/run", data={"task": "x", "workspace": str(tmp_path),
                                        "provider": "nope"}, headers={"origin": origin(server)})
        assert bad.status_code == 400 and "unknown provider" in bad.json()["error"]


def test_a_chat_keeps_its_session_for_follow_ups(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "chat.jsonl", [{"content": "first answer"},
                                                    {"content": "second answer"}])
    with running_ui() as server:
        client = logged_in(server)
        hdr = {"origin": origin(server)}
        r = client.post("/run", data={"task": "hello", "workspace": str(workspace),
                                      "provider": "replay", "script": str(script),
                                      "chat": "yes"}, headers=hdr)
        run_id = r.json()["run_id"]
        turns = []

        def on_event(event: dict[str, Any]) -> None:
            if event["kind"] == "reply":
                turns.append(event["answer"])
                if len(turns) == 1:
                    said = client.post(f"/runs/{run_id}/say", data={"message": "and then?"},
                                       headers=hdr)
                    assert said.status_code == 200
                else:
                    assert client.post(f"/runs/{run_id}/say", data={"end": "yes"},
                                       headers=hdr).status_code == 200

        events = _events_all(client, run_id, on_event)
        assert turns == ["first answer", "second answer"]
        assert events[-1]["kind"] == "done"
        assert client.post(f"/runs/{run_id}/say", data={"message": "late"},
                           headers=hdr).status_code == 409
        messages = server.state.runtime.sessions.messages(events[-1]["session_id"])
    assert [m["content"] for m in messages if m["role"] == "user"] == ["hello", "and then?"]


def _events_all(client: httpx.Client, run_id: str, on_event: Any) -> list[dict[str, Any]]:
    seen = []
    with client.stream("GET", f"/runs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if not event:
                    break
                seen.append(event)
                on_event(event)
    return seen

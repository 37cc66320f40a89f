"""Property: through the real dispatcher, no built-in file tool changes or returns a byte outside
the grant under any unattended approval mode, and the gate's verdict for every call equals the
answer of ``bastion policy check`` for the same request.

Paths are drawn from hostile pieces: ``..``, absolute prefixes, a prefix sibling
(``ws-secrets``), symlinks out of and into the workspace, a planted hard link to an outside
file, ``/proc/self/...`` and ``/tmp``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.agent.dispatch import dispatch
from bastion.cli.policy_cmd import answer
from bastion.config import Settings
from bastion.journal import Journal
from bastion.policy import DecisionRecord, Policy, stricter
from bastion.providers import ToolCall
from bastion.tools import ToolContext, ToolRegistry, mutating_tools, read_only_tools

CANARY = "OUTSIDE-CANARY-5e1d"
SEGMENTS = ["..", ".", "sub", "inside.txt", "link-out", "file-link-out", "link-in", "hard.txt",
            "rel-link-out", "ws", "ws-secrets", "outside", "secret.txt", "new.txt", "x"]
PREFIXES = ["", "", "", "{root}", "{root}/ws", "/proc/self/cwd", "/proc/self/root{root}", "/tmp",
            "/proc/self"]
PATHS = st.builds(lambda pre, parts: os.path.join(pre, *parts) if pre else os.path.join(*parts),
                  st.sampled_from(PREFIXES), st.lists(st.sampled_from(SEGMENTS), min_size=1,
                                                      max_size=5))


def build_world(root: Path) -> Path:
    ws, sibling, outside = root / "ws", root / "ws-secrets", root / "outside"
    for d in (ws / "sub", sibling, outside):
        d.mkdir(parents=True)
    (ws / "inside.txt").write_text("inside old")
    (ws / "sub" / "new.txt").write_text("deep old")
    (sibling / "secret.txt").write_text(CANARY + " sibling")
    (outside / "secret.txt").write_text(CANARY + " outside")
    (outside / "x").write_text(CANARY + " x")
    (outside / "hard.txt").write_text("shared by a hard link")
    os.link(outside / "hard.txt", ws / "hard.txt")
    os.symlink(outside, ws / "link-out")
    os.symlink(outside / "secret.txt", ws / "file-link-out")
    os.symlink(ws / "inside.txt", ws / "link-in")
    os.symlink("../../ws-secrets", ws / "sub" / "rel-link-out")
    return ws


def outside_bytes(root: Path) -> dict[str, bytes | None]:
    return {str(p): (p.read_bytes() if p.is_file() else None)
            for d in (root / "ws-secrets", root / "outside") for p in sorted(d.rglob("*"))}


def call_for(tool: str, path: str, other: str) -> dict[str, Any]:
    return {"read_file": {"path": path}, "list_dir": {"path": path},
            "grep": {"pattern": "CANARY|old", "path": path},
            "glob": {"pattern": path},
            "write_file": {"path": path, "content": "PWNED"},
            "edit_file": {"path": path, "old_text": "old", "new_text": "PWNED"},
            "delete_file": {"path": path},
            "move_file": {"source": path, "destination": other}}[tool]


TOOLS = ["read_file", "list_dir", "grep", "glob", "write_file", "edit_file", "delete_file",
         "move_file"]


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tool=st.sampled_from(TOOLS), path=PATHS, other=PATHS,
       approve=st.sampled_from(["ask", "auto", "never"]), read_first=st.booleans())
def test_no_byte_outside_the_grant_changes_or_returns(journal: Journal, tool: str, path: str,
                                                      other: str, approve: str,
                                                      read_first: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        ws = build_world(root)
        path, other = path.format(root=root), other.format(root=root)
        records: list[DecisionRecord] = []
        policy = Policy(ws, approve=approve, interactive=False,  # type: ignore[arg-type]
                        bastion_home=root / "home", on_decision=records.append)
        ctx = ToolContext(ws, policy, session_id="prop", extras={"journal": journal})
        registry = ToolRegistry([*read_only_tools(), *mutating_tools()])
        before = outside_bytes(root)
        if read_first and tool == "edit_file":  # edit needs a fresh read of the same path
            dispatch(registry, ctx, ToolCall("r", "read_file", {"path": path}))
            records.clear()
        result = dispatch(registry, ctx, ToolCall("c", tool, call_for(tool, path, other)))
        assert outside_bytes(root) == before, (tool, path, other, result.content)
        assert CANARY not in result.content, (tool, path, result.content)
        # the gate decided exactly once, as `bastion policy check` answers
        assert len(records) <= 1
        expected = _policy_check(policy, tool, path, other, approve)
        if records:
            got = records[0]
            assert (got.verdict, got.outcome) == expected, (tool, path, other, got)
        else:  # invalid arguments never reach the gate
            assert result.is_error
        if records and records[0].outcome == "deny":
            assert result.is_error and result.details.get("denied"), result


def _policy_check(policy: Policy, tool: str, path: str, other: str,
                  approve: str) -> tuple[str, str]:
    """(verdict, outcome) from the answer ``bastion policy check`` gives for the same call."""
    paths = {"move_file": [path, other], "glob": ["."]}.get(tool, [path])  # glob: the workspace
    answers = [answer(policy, Settings(), f"{tool}({p})", approve=approve) for p in paths]
    decision = answers[0][2] if len(answers) == 1 else stricter(answers[0][2], answers[1][2])
    outcome = answers[0][3] if len(answers) == 1 else (
        "allow" if all(a[3] == "allow" for a in answers) else "deny")
    return decision.verdict, outcome


COMMANDS = ["cat {p}", "echo PWNED > {p}", "echo PWNED >> {p}", "rm -f {p}", "mv {p} {q}",
            "cp {p} {q}", "ln {p} {q}", "ln -s {p} {q}", "touch {q}", "ls {p}", "cat < {p}"]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(template=st.sampled_from(COMMANDS), path=PATHS, other=PATHS,
       approve=st.sampled_from(["ask", "auto", "never"]))
def test_run_command_same_gate_and_confined(journal: Journal, template: str, path: str,
                                            other: str, approve: str) -> None:
    from bastion.config.models import SandboxSettings
    from bastion.sandbox import probe_sandbox
    from bastion.tools import RunCommand
    from helpers import require

    require(probe_sandbox()[0], "bubblewrap sandbox")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        ws = build_world(root)
        command = template.format(p=path.format(root=root), q=other.format(root=root))
        records: list[DecisionRecord] = []
        policy = Policy(ws, approve=approve, interactive=False,  # type: ignore[arg-type]
                        bastion_home=root / "home", on_decision=records.append)
        ctx = ToolContext(ws, policy, session_id="prop", extras={"journal": journal})
        registry = ToolRegistry([RunCommand(SandboxSettings(default_timeout_s=20))])
        before = outside_bytes(root)
        result = dispatch(registry, ctx, ToolCall("c", "run_command", {"command": command}))
        assert outside_bytes(root) == before, (command, result.content)
        assert CANARY not in result.content, (command, result.content)
        _, _, decision, outcome = answer(policy, Settings(), f"run_command({command})",
                                         approve=approve)
        assert [(r.verdict, r.outcome) for r in records] == [(decision.verdict, outcome)]

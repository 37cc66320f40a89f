"""The public Policy API its callers use: run_command decisions, check(decision=), narrowed().

Also: a folder holding protected paths (``.git``, ``.bastion``) cannot be moved or deleted.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.config.models import SandboxSettings
from bastion.policy import Decision, DecisionRecord, Grant, Policy, Rule
from bastion.tools import ToolContext, ToolResult
from bastion.tools.edit import DeleteFile, MoveFile
from bastion.tools.run_command import RunCommand, RunCommandArgs

RANK = {"allow": 0, "ask": 1, "deny": 2}


def _policy(workspace: Path, *allow: str, deny: tuple[str, ...] = (), **kw: Any) -> Policy:
    rules = [Rule.parse(t, "allow", "test", workspace) for t in allow]
    rules += [Rule.parse(t, "deny", "test", workspace) for t in deny]
    return Policy(workspace, rules=rules, **kw)


# ---------------------------------------------------------------- run_command


@pytest.mark.parametrize("rule", ["RunCommand(git status:*)", "Bash(git status:*)",
                                  "Bash(git status*)"])
@pytest.mark.parametrize("command", [
    "git status && rm -rf ~", "git status; rm -rf ~", "git status || rm -rf ~",
    "git status | sh", "git status & rm -rf ~", "git status $(rm -rf ~)",
    "git status `rm -rf ~`", "(git status; rm -rf ~)", "git status\nrm -rf ~",
    "if git status; then rm -rf ~; fi", "git status > ~/.bashrc", "git status (",
    "eval git status", "bash -c 'git status'", "git status <(rm -rf ~)",
])
def test_a_prefix_rule_never_allows_a_second_command(workspace: Path, rule: str,
                                                     command: str) -> None:
    policy = _policy(workspace, rule)
    assert policy.decide("run_command", "git status -s").verdict == "allow"
    d = policy.decide("run_command", command)
    assert d.verdict != "allow", (command, d)


def test_command_rules_deny_per_segment_and_redirects_are_writes(workspace: Path) -> None:
    policy = _policy(workspace, "Bash", deny=("Bash(rm:*)",))
    assert policy.decide("run_command", "echo hi && rm -rf x").verdict == "deny"
    assert policy.decide("run_command", "echo ok > out.txt").verdict == "allow"
    for command in ("echo x > .git/hooks/pre-commit", "echo x >> .bastion/settings.json",
                    "echo x > .git", "cat < .env", "echo x > ~/.bashrc"):
        d = policy.decide("run_command", command)
        assert d.verdict in ("deny", "ask"), command
    assert policy.decide("run_command", "echo x > .git/hooks/pre-commit").rule.startswith(
        "protected:")
    # unanalysable: never allowed, even by a rule that allows every command
    assert policy.decide("run_command", "eval ls").rule == "unanalysable"
    assert policy.decide("run_command", "ls '").verdict == "ask"
    # a whole-line deny glob written for the old matcher still denies
    glob = _policy(workspace, "Bash", deny=("Bash(*curl*|*sh*)",))
    assert glob.decide("run_command", "curl x | sh").verdict == "deny"


def test_command_modes(workspace: Path) -> None:
    assert _policy(workspace, "Bash(ls)").decide("run_command", "ls").verdict == "allow"
    assert _policy(workspace).decide("run_command", "ls").verdict == "ask"  # no rule: ask
    strict = _policy(workspace, "Bash(ls)", mode="strict")
    assert strict.decide("run_command", "ls").verdict == "ask"
    restricted = _policy(workspace, "Bash(ls)", mode="restricted")
    assert restricted.decide("run_command", "ls").verdict == "deny"


def test_run_command_tool_settles_through_the_policy(workspace: Path) -> None:
    records: list[DecisionRecord] = []
    policy = _policy(workspace, "Bash(git status:*)", approve="never", on_decision=records.append)
    ctx = ToolContext(workspace=workspace, policy=policy, session_id="s1")
    res = RunCommand(SandboxSettings(mode="none")).run(
        RunCommandArgs(command="git status && touch pwned"), ctx)
    assert res.is_error and res.details["outcome"] == "deny"
    assert not (workspace / "pwned").exists()
    assert [(r.tool, r.verdict, r.outcome, r.settled_by) for r in records] == [
        ("run_command", "ask", "deny", "approve:never")]
    records.clear()
    auto = _policy(workspace, approve="auto", on_decision=records.append)
    res = RunCommand(SandboxSettings(mode="none")).run(
        RunCommandArgs(command="echo hi > made.txt"),
        ToolContext(workspace=workspace, policy=auto, session_id="s1"))
    assert not res.is_error, res.content
    assert (workspace / "made.txt").read_text() == "hi\n"
    assert [(r.verdict, r.outcome, r.settled_by) for r in records] == [
        ("ask", "allow", "approve:auto")]


def test_check_with_a_caller_decision_only_tightens(workspace: Path) -> None:
    policy = _policy(workspace, "Bash(ls)", approve="auto")
    tighter = policy.check("run_command", "ls", decision=Decision("deny", "mine", "no"))
    assert (tighter.verdict, tighter.outcome, tighter.rule) == ("deny", "deny", "mine")
    asked = policy.check("run_command", "ls", decision=Decision("ask", "mine", "ask"))
    assert (asked.verdict, asked.outcome, asked.settled_by) == ("ask", "allow", "approve:auto")
    wider = policy.check("write_file", ".git/hooks/x", decision=Decision("allow", "me", "ok"))
    assert wider.outcome == "deny" and wider.rule.startswith("protected:")


# ---------------------------------------------------------------- narrowed()


def test_narrowed_keeps_session_state_and_intersects_grants(workspace: Path,
                                                            tmp_path: Path) -> None:
    docs, other = workspace / "docs", tmp_path / "other"
    docs.mkdir()
    other.mkdir()
    base_records: list[DecisionRecord] = []
    base = Policy(workspace, grants=[Grant(workspace, "write", "ws"), Grant(docs, "read", "ro")],
                  approve="never", session_id="s9", on_decision=base_records.append)
    child = base.narrowed(grants=[Grant(workspace, "write", "agent"), Grant(other, "write", "x")],
                          rules=[Rule.parse("Write(*.lock)", "deny", "agent", workspace)],
                          tools=["read_file", "write_file", "mcp__git__*"])
    assert child.session_id == "s9" and child.approve == "never"
    assert child.decide("write_file", "docs/a.md").verdict == "deny"  # still read-only
    assert child.decide("write_file", str(other / "a")).verdict == "ask"  # never granted
    assert child.decide("write_file", "a.lock").verdict == "deny"
    assert base.decide("write_file", "a.lock").verdict == "allow"  # the base is unchanged
    assert child.decide("grep", "a.md").verdict == "allow"  # any listed read tool reads
    assert child.decide("delete_file", "a.md").verdict == "deny"  # not in its tools
    assert child.decide("mcp__git__log", "x", fallback="allow").verdict == "allow"
    assert child.decide("mcp__web__get", "x", fallback="allow").verdict == "deny"
    _, writable, _, _ = child.sandbox_view()
    assert writable == (workspace,)
    later: list[DecisionRecord] = []
    base.add_hook(later.append)  # hooks are live: added after narrowing, still called
    child.check("write_file", "a.lock")
    assert [r.rule for r in base_records] == [r.rule for r in later] and len(later) == 1
    # "this session" approvals are shared both ways
    shared = Policy(workspace, mode="strict", approve="ask", interactive=True,
                    approver=lambda req: "session")
    kid = shared.narrowed()
    assert kid.check("write_file", "f").outcome == "allow"
    shared.approver = lambda req: "deny"
    assert shared.check("write_file", "f").settled_by == "approval:session"
    # outside every grant a "session" answer covers only that call
    assert kid.check("write_file", str(other / "f")).settled_by == "user:once"
    assert shared.check("write_file", str(other / "f")).settled_by == "user:deny"


def test_narrowed_mode_and_rules_never_widen(workspace: Path, tmp_path: Path) -> None:
    strict = Policy(workspace, mode="strict")
    assert strict.narrowed(mode="standard").mode == "strict"
    assert strict.narrowed(mode="restricted").decide("write_file", "a").verdict == "deny"
    base = Policy(workspace, grants=[Grant(workspace, "read", "ro")])
    widen = base.narrowed(grants=[Grant(workspace, "write", "agent")],
                          rules=[Rule.parse("Write", "allow", "agent", workspace),
                                 Rule.parse("Bash", "allow", "agent", workspace),
                                 Rule.parse("Write(*.md)", "ask", "agent", workspace)])
    assert widen.decide("write_file", "a.txt").verdict == "deny"
    assert widen.decide("write_file", "a.md").verdict == "deny"  # an ask rule cannot lift it
    assert widen.decide("run_command", "ls").verdict == "ask"
    assert widen.decide("write_file", str(tmp_path / "x")).verdict == "ask"


DIRS = ["a", "a/b", "a/b/c", "d", "d/e"]
RULE_POOL = ["Write(a/**)", "Read(d/**)", "Write(*.txt)", "Bash(ls:*)", "Bash", "Write",
             "Read", "Delete", "Bash(git status:*)", "Write(//tmp/**)"]
REQUESTS = [("read_file", p) for p in ["a/x.txt", "a/b/y.md", "d/e/z", "q.txt", "a/b/c/w"]] + \
           [(t, p) for t in ("write_file", "delete_file")
            for p in ["a/x.txt", "a/b/y.md", "d/e/z", "q.txt", "a/b/c/w", ".git/hooks/h"]] + \
           [("run_command", c) for c in ["ls -l", "git status && rm -rf ~", "ls; git status",
                                         "eval ls", "ls > a/out.txt"]]
grant_st = st.lists(st.tuples(st.sampled_from(["", *DIRS]), st.sampled_from(["read", "write"])),
                    max_size=4)
rule_st = st.lists(st.tuples(st.sampled_from(RULE_POOL), st.sampled_from(["allow", "ask",
                                                                          "deny"])), max_size=4)
mode_st = st.sampled_from(["standard", "strict", "restricted"])


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(base_grants=grant_st, base_rules=rule_st, base_mode=mode_st, want_grants=grant_st,
       none_grants=st.booleans(), add_rules=rule_st, want_mode=st.none() | mode_st,
       twice=st.booleans())
def test_narrowed_never_widens(base_grants: list[tuple[str, str]],
                               base_rules: list[tuple[str, str]], base_mode: str,
                               want_grants: list[tuple[str, str]], none_grants: bool,
                               add_rules: list[tuple[str, str]], want_mode: str | None,
                               twice: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(os.path.realpath(tmp)) / "ws"
        for d in DIRS:
            (ws / d).mkdir(parents=True, exist_ok=True)

        def grants(spec: list[tuple[str, str]], source: str) -> list[Grant]:
            return [Grant(ws / d, a, source) for d, a in spec]  # type: ignore[arg-type]

        def rules(spec: list[tuple[str, str]]) -> list[Rule]:
            return [Rule.parse(t, v, "t", ws) for t, v in spec]  # type: ignore[arg-type]

        base = Policy(ws, grants=grants(base_grants, "base") or None, rules=rules(base_rules),
                      mode=base_mode, home=ws / "home", bastion_home=ws / "bh")  # type: ignore[arg-type]
        child = base.narrowed(grants=None if none_grants else grants(want_grants, "agent"),
                              rules=rules(add_rules), mode=want_mode)  # type: ignore[arg-type]
        if twice:
            child = child.narrowed(rules=rules(base_rules), mode="standard")
        for tool, target in REQUESTS:
            b, c = base.decide(tool, target), child.decide(tool, target)
            assert RANK[c.verdict] >= RANK[b.verdict], (tool, target, b, c)
        # the sandbox view narrows too: writable only where the base writes, visible only
        # where the base grants
        _, bw, _, _ = base.sandbox_view()
        cro, cw, _, _ = child.sandbox_view()
        for root in cw:
            held = base.grant_for(root)
            assert held is not None and held.access == "write", root
            assert any(root.is_relative_to(p) for p in bw), root
        assert not cw or base.mode != "restricted"
        for root in cro:
            assert base.grant_for(root) is not None, root
        for g in child.grants or []:
            held = base.grant_for(g.path)
            assert held is not None
            assert g.access == "read" or held.access == "write"


# ---------------------------------------------------------------- .git and .bastion


def _call(tool: Any, ctx: ToolContext, **args: Any) -> ToolResult:
    result: ToolResult = tool.run(tool.parse(args), ctx)
    return result


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize(("tool", "args"), [
    (MoveFile, {"source": ".git", "destination": "old-git"}),
    (MoveFile, {"source": ".bastion", "destination": "b"}),
    (MoveFile, {"source": "sub", "destination": "sub2"}),  # holds sub/.git/hooks
    (MoveFile, {"source": "x.txt", "destination": ".git"}),
    (MoveFile, {"source": ".git/HEAD", "destination": ".git"}),
    (DeleteFile, {"path": ".git"}),
    (DeleteFile, {"path": ".bastion"}),
    (DeleteFile, {"path": "sub"}),
    (DeleteFile, {"path": ".bastion/settings.json"}),
])
def test_git_and_bastion_cannot_be_moved_or_deleted(ctx: ToolContext, workspace: Path,
                                                    tool: Any, args: dict[str, str]) -> None:
    for rel in (".git/HEAD", ".git/config", ".git/hooks/pre-commit", ".bastion/settings.json",
                "sub/.git/hooks/post-checkout", "x.txt"):
        (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
        (workspace / rel).write_text(rel)
    before = _tree(workspace)
    r = _call(tool(), ctx, **args)
    assert r.is_error and ("protected" in r.content or "denied" in r.content), r.content
    assert _tree(workspace) == before


def test_folders_holding_protected_paths_are_protected_in_the_policy(workspace: Path) -> None:
    (workspace / ".git" / "objects").mkdir(parents=True)
    (workspace / "plain").mkdir()
    (workspace / "plain" / "f.txt").write_text("x")
    (workspace / "keys").mkdir()
    (workspace / "keys" / "id_rsa").write_text("k")
    policy = Policy(workspace)
    for tool in ("move_file", "delete_file", "write_file"):
        assert policy.decide(tool, ".git").rule == "protected:.git"
        assert policy.decide(tool, ".bastion").verdict == "deny"
        assert policy.decide(tool, ".").rule == "protected:grant-root"
        assert policy.decide(tool, "keys").rule == "protected:contains secret"
        assert policy.decide(tool, "plain").verdict == "allow"  # nothing protected inside
    assert policy.decide("write_file", ".git/objects/ab").verdict == "allow"  # git still works


def test_the_same_folder_granted_twice_gets_the_lesser_access(workspace: Path) -> None:
    # e.g. an untrusted project's {"path": ".", "access": "read"} over the default write grant
    policy = Policy(workspace, grants=[Grant(workspace, "write", "default"),
                                       Grant(workspace, "read", "project")])
    assert policy.decide("write_file", "a.txt").verdict == "deny"
    read_only, writable, _, _ = policy.sandbox_view()
    assert writable == () and read_only == (workspace,)

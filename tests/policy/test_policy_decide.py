"""Policy decisions: grants, deny-read defaults, protected paths, rules, modes, approvals."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from bastion.config import Settings
from bastion.policy import (
    ApprovalRequest,
    DecisionRecord,
    Grant,
    Policy,
    PolicyDenied,
    Rule,
    TrustStore,
    build_policy,
    terminal_approver,
)
from bastion.policy.approval import render_request

PROTECTED = [".bastion/settings.json", ".bastion/agents/x.yaml", ".git/hooks/pre-commit",
             ".git/config", ".gitmodules", ".vscode/settings.json", ".idea/workspace.xml",
             ".github/workflows/ci.yml", ".mcp.json", ".bashrc", ".zshrc", ".profile",
             "sub/.git/hooks/post-checkout", "pkg/.bashrc", ".git"]


def rules(ws: Path, home: Path | None = None, **lists: list[str]) -> list[Rule]:
    return [Rule.parse(t, v, "test", ws, home)  # type: ignore[arg-type]
            for v, ts in lists.items() for t in ts]


@pytest.mark.parametrize("rel", PROTECTED)
@pytest.mark.parametrize("exists", [True, False])
def test_protected_paths_are_read_only_even_when_missing(workspace: Path, rel: str,
                                                         exists: bool) -> None:
    target = workspace / rel
    if exists and rel != ".git":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("original")
    policy = Policy(workspace)
    d = policy.decide("write_file", rel)
    assert d.verdict == "deny" and d.rule.startswith("protected:"), d
    with pytest.raises(PolicyDenied, match="protected"):
        policy.resolve_write(rel)
    # reading them is fine (they are not secrets)
    if rel != ".git":
        assert policy.decide("read_file", rel).verdict == "allow"


def test_git_dir_writes_other_than_hooks_and_config_are_allowed(workspace: Path) -> None:
    assert Policy(workspace).decide("write_file", ".git/objects/ab/cd").verdict == "allow"


def test_worktree_gitdir_is_protected(tmp_path: Path, workspace: Path) -> None:
    real = tmp_path / "main-repo" / ".git" / "worktrees" / "wt"
    real.mkdir(parents=True)
    (real / "commondir").write_text("../..\n")
    (workspace / ".git").write_text(f"gitdir: {real}\n")
    policy = Policy(workspace, grants=[Grant(workspace, "write", "t"),
                                       Grant(tmp_path / "main-repo", "write", "t")])
    for p in (real / "HEAD", tmp_path / "main-repo" / ".git" / "hooks" / "pre-commit",
              tmp_path / "main-repo" / ".git" / "config"):
        assert policy.decide("write_file", str(p)).verdict == "deny", p
    assert real in policy.sandbox_view().protected_paths


@pytest.mark.parametrize("rel", [".env", ".env.local", "config/.env.production", "certs/server.pem",
                                 "tls.key", "id_rsa", "keys/id_ed25519.pub"])
def test_deny_read_defaults_hold_inside_grants(workspace: Path, rel: str) -> None:
    (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
    (workspace / rel).write_text("SECRET")
    policy = Policy(workspace)
    for tool in ("read_file", "write_file"):
        d = policy.decide(tool, rel)
        assert d.verdict == "deny" and d.rule.startswith("deny-read:"), (tool, d)


def test_home_secret_dirs_and_bastion_home_denied(tmp_path: Path, workspace: Path,
                                                  bastion_home: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    policy = Policy(workspace, home=home, grants=[Grant(workspace, "write", "t"),
                                                  Grant(home, "write", "t")],
                    approve="auto")
    for p in (home / ".ssh" / "id_rsa", home / ".ssh" / "authorized_keys",
              home / ".aws" / "credentials", home / ".config" / "gcloud" / "x",
              bastion_home / "settings.json", bastion_home / "trust.json"):
        d = policy.decide("read_file", str(p))
        assert d.verdict == "deny", (p, d)
        # --approve auto never turns a deny into an allow
        assert policy.check("write_file", str(p)).outcome == "deny"


def test_user_deny_read_extends_defaults(workspace: Path) -> None:
    policy = Policy(workspace, deny_read=["secrets/", "*.sqlite"])
    assert policy.decide("read_file", "secrets/a.txt").verdict == "deny"
    assert policy.decide("read_file", "db/x.sqlite").verdict == "deny"
    assert policy.decide("read_file", "secrets-not/a.txt").verdict == "allow"


def test_prefix_sibling_and_outside_are_not_in_the_grant(tmp_path: Path) -> None:
    ws = tmp_path / "app"
    ws.mkdir()
    (tmp_path / "app-secrets").mkdir()
    policy = Policy(ws)
    for raw in ("../app-secrets/x.txt", str(tmp_path / "app-secrets" / "x.txt"), "/etc/x"):
        d = policy.decide("write_file", raw)
        assert d.verdict == "ask" and d.rule == "outside-grants"
        with pytest.raises(PolicyDenied, match="no terminal"):
            policy.resolve_write(raw)


def test_symlink_out_of_the_grant_is_denied_not_asked(tmp_path: Path, workspace: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, workspace / "link")
    policy = Policy(workspace, approve="auto")
    d = policy.decide("write_file", "link/x.txt")
    assert d.verdict == "deny" and d.rule == "symlink-escape"
    assert policy.check("write_file", "link/x.txt").outcome == "deny"


def test_rules_deny_then_ask_then_allow_with_anchors(tmp_path: Path, workspace: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    rs = rules(workspace, home,
               allow=["Write(./gen/**)", f"Write(//{str(extra).lstrip('/')}/**)", "Read(~/notes)"],
               ask=["Edit(src/**)"],
               deny=["Write(*.lock)", "Delete"])
    policy = Policy(workspace, rules=rs, home=home)
    assert policy.decide("write_file", "gen/a.txt").verdict == "allow"
    assert policy.decide("write_file", "gen/poetry.lock").verdict == "deny"  # deny before allow
    d = policy.decide("edit_file", "src/app.py")
    assert d.verdict == "ask" and "Edit(src/**)" in d.rule
    assert policy.decide("write_file", str(extra / "out.txt")).verdict == "allow"
    assert policy.decide("read_file", str(home / "notes" / "n.md")).verdict == "allow"
    assert policy.decide("delete_file", "README.md").verdict == "deny"
    # component-wise: ./gen does not cover gen-other
    assert policy.decide("write_file", "gen-other/a.txt").verdict == "allow"  # workspace grant
    assert policy.decide("write_file", str(tmp_path / "extra-2" / "a")).verdict == "ask"


def test_allow_rules_cannot_lift_builtin_protections(workspace: Path) -> None:
    rs = rules(workspace, allow=["Write(./**)", "Read(./**)", "Write(.git/hooks/**)"])
    policy = Policy(workspace, rules=rs)
    assert policy.decide("write_file", ".git/hooks/pre-commit").verdict == "deny"
    assert policy.decide("read_file", ".env").verdict == "deny"


def test_modes(workspace: Path) -> None:
    strict = Policy(workspace, mode="strict", rules=rules(workspace, allow=["Write(./**)"]))
    d = strict.decide("write_file", "a.txt")
    assert d.verdict == "ask" and d.rule == "mode:strict"
    assert strict.decide("read_file", "a.txt").verdict == "allow"
    restricted = Policy(workspace, mode="restricted")
    assert restricted.decide("write_file", "a.txt").verdict == "deny"
    assert restricted.decide("read_file", "a.txt").verdict == "allow"
    assert Policy(workspace).decide("write_file", "a.txt").verdict == "allow"


def test_read_only_grant_denies_writes(tmp_path: Path, workspace: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    policy = Policy(workspace, grants=[Grant(workspace, "write", "t"), Grant(docs, "read", "t")])
    assert policy.decide("read_file", str(docs / "a.md")).verdict == "allow"
    assert policy.decide("write_file", str(docs / "a.md")).verdict == "deny"


def test_approve_modes_and_hooks(tmp_path: Path, workspace: Path) -> None:
    seen: list[DecisionRecord] = []
    target = str(tmp_path / "out.txt")
    # outside every grant: auto never approves (only a person at a terminal can)
    auto = Policy(workspace, approve="auto", on_decision=seen.append)
    assert auto.check("write_file", target).outcome == "deny"
    assert auto.check("read_file", target).outcome == "deny"
    never = Policy(workspace, approve="never", interactive=True, on_decision=seen.append)
    assert never.check("write_file", target).outcome == "deny"
    no_tty = Policy(workspace, approve="ask", interactive=False, on_decision=seen.append)
    assert no_tty.check("write_file", target).outcome == "deny"
    assert [r.settled_by for r in seen] == ["approve:auto-outside", "approve:auto-outside",
                                            "approve:never", "no-tty"]
    assert all(r.verdict == "ask" and r.rule == "outside-grants" for r in seen)
    json.dumps([r.to_json() for r in seen])
    # inside the grants auto approves what is asked (strict mode, ask rules)
    strict = Policy(workspace, mode="strict", approve="auto")
    inside = strict.check("write_file", "notes.txt")
    assert (inside.verdict, inside.outcome, inside.settled_by) == ("ask", "allow", "approve:auto")
    assert strict.check("write_file", target).settled_by == "approve:auto-outside"


def test_outside_approval_is_for_that_path_and_that_call_only(tmp_path: Path,
                                                             workspace: Path) -> None:
    asked: list[ApprovalRequest] = []

    def approver(req: ApprovalRequest) -> str:
        asked.append(req)
        return "always"

    settings_file = tmp_path / "settings.json"
    policy = Policy(workspace, interactive=True, approver=approver,  # type: ignore[arg-type]
                    user_settings_path=settings_file)
    out = tmp_path / "o" / "a.txt"
    first = policy.check("write_file", str(out))
    assert (first.outcome, first.settled_by) == ("allow", "user:once")
    assert asked[0].once_only and asked[0].always_rule is None
    assert "[o]nce / [d]eny" in render_request(asked[0])
    again = policy.check("write_file", str(out))  # asked again: no session approval outside
    assert again.settled_by == "user:once" and len(asked) == 2
    assert not settings_file.exists()  # nothing persisted


@pytest.mark.parametrize("raw", ["/proc/self/environ", "/proc/self/mem", "/sys/kernel/notes",
                                 "/dev/sda", "/proc/self/cwd/README.md"])
def test_pseudo_filesystems_are_outside_unless_granted(workspace: Path, raw: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workspace)  # /proc/self/cwd/README.md resolves into the workspace
    everything = Policy(workspace, grants=[Grant(Path("/"), "write", "test")], approve="auto")
    for access in ("read", "write"):
        d = everything.decide("write_file" if access == "write" else "read_file", raw)
        assert d.verdict in ("ask", "deny"), (raw, d)
        record = everything.check("read_file" if access == "read" else "write_file", raw)
        assert record.outcome == "deny", (raw, record)
    proc = Policy(workspace, grants=[Grant(Path("/proc"), "read", "test")])
    assert proc.decide("read_file", "/proc/cpuinfo").verdict == "allow"


def test_terminal_approver_once_session_always_deny(tmp_path: Path, workspace: Path) -> None:
    settings_file = tmp_path / "settings.json"
    answers = io.StringIO("o\ns\nd\na\n")
    shown = io.StringIO()
    asked: list[ApprovalRequest] = []
    base = terminal_approver(answers, shown)

    def approver(req: ApprovalRequest) -> str:
        asked.append(req)
        return base(req)

    extra = tmp_path / "extra"  # granted, and strict mode asks before every change there
    extra.mkdir()
    policy = Policy(workspace, grants=[Grant(workspace, "write", "ws"),
                                       Grant(extra, "write", "extra")], mode="strict",
                    interactive=True, approver=approver,  # type: ignore[arg-type]
                    user_settings_path=settings_file)
    out1, out2, out3 = (extra / "o1" / "a", extra / "o2" / "b", extra / "o3" / "c")
    policy.begin_call("call_1", "write_file", {"path": str(out1), "content": "x"})
    assert policy.check("write_file", str(out1), preview="+x").outcome == "allow"  # once
    assert policy.check("write_file", str(out2)).outcome == "allow"  # session
    assert policy.check("write_file", str(out2)).settled_by == "approval:session"
    assert policy.check("write_file", str(out1)).outcome == "deny"  # once was only once
    assert policy.check("write_file", str(out3)).outcome == "allow"  # always
    assert len(asked) == 4
    text = shown.getvalue()
    assert "write_file" in text and "+x" in text and '"content": "x"' in text
    saved = json.loads(settings_file.read_text())
    assert saved["permissions"]["allow"] == [f"Write(//{str(out3).lstrip('/')})"]
    # the saved rule is honoured by a fresh policy built from the settings
    fresh = build_policy(Settings.model_validate(saved), workspace,
                         bastion_home=tmp_path / "bh")
    assert fresh.decide("write_file", str(out3)).verdict == "allow"


def test_approval_never_asked_for_deny(workspace: Path) -> None:
    def approver(req: ApprovalRequest) -> str:
        raise AssertionError("a deny must not be put to the user")

    policy = Policy(workspace, interactive=True, approver=approver)  # type: ignore[arg-type]
    assert policy.check("write_file", ".git/hooks/x").outcome == "deny"


def _project(workspace: Path, data: dict[str, object]) -> None:
    (workspace / ".bastion").mkdir(exist_ok=True)
    (workspace / ".bastion" / "settings.json").write_text(json.dumps(data))


def test_project_settings_only_tighten_until_trusted(tmp_path: Path, workspace: Path,
                                                     bastion_home: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _project(workspace, {"permissions": {
        "allow": [f"Write(//{str(elsewhere).lstrip('/')}/**)"],
        "folders": [{"path": str(elsewhere), "access": "write"}, {"path": "docs", "access": "read"}],
        "deny": ["Write(./src/**)"],
        "denyRead": ["*.csv"]}})
    before = build_policy(Settings(), workspace, bastion_home=bastion_home)
    assert before.decide("write_file", str(elsewhere / "x")).verdict == "ask"
    assert before.decide("write_file", "src/app.py").verdict == "deny"
    assert before.decide("read_file", "data.csv").verdict == "deny"
    assert before.decide("write_file", "docs/a.md").verdict == "deny"  # downgrade applies
    assert any("not trusted" in n for n in before.notes)

    store = TrustStore(bastion_home)
    store.trust(workspace)
    after = build_policy(Settings(), workspace, bastion_home=bastion_home)
    assert after.decide("write_file", str(elsewhere / "x")).verdict == "allow"

    # any change to the project's settings withdraws the trust until re-trusted
    _project(workspace, {"permissions": {"folders": [{"path": "/", "access": "write"}]}})
    assert store.state(workspace) == "changed"
    changed = build_policy(Settings(), workspace, bastion_home=bastion_home)
    assert changed.decide("write_file", "/etc/x").verdict == "ask"
    assert store.untrust(workspace)


def test_project_security_mode_tightens(workspace: Path, bastion_home: Path) -> None:
    _project(workspace, {"securityMode": True})
    policy = build_policy(Settings(), workspace, bastion_home=bastion_home)
    assert policy.mode == "strict"


def test_sandbox_view_lists_roots_protected_and_hidden(tmp_path: Path, workspace: Path,
                                                       bastion_home: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (workspace / ".env").write_text("K=1")
    (workspace / "pkg").mkdir()
    (workspace / "pkg" / "server.pem").write_text("x")
    (workspace / "pkg" / ".vscode").mkdir()
    policy = Policy(workspace, grants=[Grant(workspace, "write", "t"), Grant(docs, "read", "t")])
    ro, rw, protected, hidden = policy.sandbox_view()
    assert ro == (docs,) and rw == (workspace,)
    assert workspace / ".git" / "hooks" in protected and workspace / ".bastion" in protected
    assert workspace / "pkg" / ".vscode" in protected
    assert {workspace / ".env", workspace / "pkg" / "server.pem", bastion_home} <= set(hidden)
    assert Policy(workspace, mode="restricted").sandbox_view().writable_roots == ()


def test_non_file_tools_use_rules_and_fallback(workspace: Path) -> None:
    policy = Policy(workspace, rules=rules(workspace, deny=["Bash(rm -rf:*)"],
                                           allow=["Bash(npm test)"]))
    assert policy.decide("run_command", "rm -rf /").verdict == "deny"
    assert policy.decide("run_command", "npm test").verdict == "allow"
    assert policy.decide("run_command", "make", fallback="ask").verdict == "ask"

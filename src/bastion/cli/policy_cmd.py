"""``bastion policy check RULE`` and ``bastion policy explain``.

``policy check`` answers what the gate would do with one request: the session policy's
verdict and, for ``Fetch(URL)``, what the egress gateway would do too (offline mode, the
domain allowlist, residency) — the stricter wins. Exit status: 0 allow, 1 deny, 2 ask; with
``--approve auto|never`` the verdict is settled as an unattended run would (0 allow, 1 deny).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer

from bastion.config import Settings, describe_layers, load_settings
from bastion.errors import BastionError
from bastion.home import bastion_home
from bastion.net import EgressPolicy, decide_request
from bastion.policy import (
    FILE_TOOLS,
    Decision,
    Policy,
    build_policy,
    fallback_for,
    known_tool,
    stricter,
)

from .output import out, print_json

app = typer.Typer(help="Inspect the permission policy.", no_args_is_help=True)

WorkspaceOpt = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder (default: cwd).")
ModeOpt = typer.Option(None, "--mode", help="standard, strict, audit or restricted.")

_REQUEST = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)
#: the tool a family name stands for when checking a request
_REPRESENTATIVE = {"read": "read_file", "write": "write_file", "edit": "edit_file",
                   "delete": "delete_file", "move": "move_file", "bash": "run_command",
                   "shell": "run_command", "fetch": "fetch_url", "webfetch": "fetch_url"}


def _policy(workspace: Path, mode: str | None, settings: Settings | None = None) -> Policy:
    if mode is not None and mode not in ("standard", "strict", "audit", "restricted"):
        raise typer.BadParameter(f"{mode!r} is not one of standard, strict, audit, restricted",
                                 param_hint="--mode")
    if mode == "audit":  # audit mode records more; permissions stay as configured (as in run)
        mode = None
    ws = workspace.expanduser().resolve()
    if not ws.is_dir():
        raise BastionError(f"workspace {workspace} is not a directory")
    return build_policy(settings or load_settings(), ws, bastion_home=bastion_home(),
                        mode=mode, interactive=False)  # type: ignore[arg-type]


def _gateway(settings: Settings, url: str, offline: bool) -> Decision:
    """What the egress gateway would say about ``url`` for fetch_url (names only, no DNS)."""
    egress = EgressPolicy.from_settings(settings, offline=offline or settings.offline_mode,
                                        endpoints=())
    verdict = decide_request(egress, url)
    if verdict.allowed:
        return Decision("allow", f"network:{verdict.rule}", verdict.reason)
    return Decision("deny", f"network:{verdict.rule}", f"the network gateway refuses: "
                    f"{verdict.reason}")


def _settle(decision: Decision, approve: str | None) -> str:
    """The outcome of an unattended run: ``auto`` approves asks inside the grants only."""
    if decision.verdict != "ask" or approve is None:
        return decision.verdict
    return "allow" if approve == "auto" and not decision.outside else "deny"


def _target(spec: str, workspace: Path) -> str:
    """A request's path specifier as a path (same anchors as rules)."""
    if spec.startswith("//"):
        return "/" + spec.lstrip("/")
    if spec.startswith("~"):
        return os.path.expanduser(spec)
    return str(workspace / spec.removeprefix("./")) if not spec.startswith("/") else spec


def answer(policy: Policy, settings: Settings, request: str, *, approve: str | None = None,
           offline: bool = False) -> tuple[str, str, Decision, str]:
    """What the gate would do with ``request`` (``Tool(target)``): (tool, target, decision,
    outcome). ``outcome`` is the verdict, or with ``approve`` how an unattended run settles
    it. The same answer ``bastion policy check`` prints."""
    m = _REQUEST.match(request)
    if not m or m.group(2) is None or not m.group(2).strip():
        raise BastionError(f"cannot parse {request!r}", hint="write Tool(target), e.g. "
                           "'Write(./src/x.py)' or 'Bash(npm test)'")
    name, spec = m.group(1), m.group(2).strip()
    if not known_tool(name) or name == "*":
        raise BastionError(f"unknown tool {name!r}",
                           hint="use Read, Write, Edit, Delete, Move, Bash, Fetch or a tool name")
    tool = _REPRESENTATIVE.get(name.lower(), name)
    target = _target(spec, policy.workspace) if tool in FILE_TOOLS else spec
    decision = policy.decide(tool, target, fallback=fallback_for(tool))
    if tool == "fetch_url" and decision.verdict != "deny":
        decision = stricter(_gateway(settings, target, offline), decision)
    return tool, target, decision, _settle(decision, approve)


@app.command("check")
def check(
    request: str = typer.Argument(..., help="e.g. 'Write(./src/x.py)', 'Read(~/.ssh/id_rsa)'."),
    workspace: Path = WorkspaceOpt,
    mode: str | None = ModeOpt,
    approve: str | None = typer.Option(None, "--approve", help="Settle an ask as an unattended "
                                       "run would: ask (no terminal), auto or never."),
    offline: bool = typer.Option(False, "--offline", help="As with run --offline."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show the decision for a request and the rule that makes it (exit 0 allow, 1 deny,
    2 ask).

    Example: bastion policy check 'Write(src/app.py)'
    """
    if approve is not None and approve not in ("ask", "auto", "never"):
        raise typer.BadParameter(f"{approve!r} is not one of ask, auto, never",
                                 param_hint="--approve")
    settings = load_settings()
    tool, target, decision, outcome = answer(_policy(workspace, mode, settings), settings,
                                             request, approve=approve, offline=offline)
    code = {"allow": 0, "deny": 1, "ask": 2}[outcome]
    if json_output:
        print_json({"request": request, "tool": tool, "target": target, **decision.to_json(),
                    "outcome": outcome, "exit_code": code})
        raise typer.Exit(code)
    out.print(f"{decision.verdict.upper()}  {request}", markup=False)
    out.print(f"  rule:   {decision.rule}", markup=False)
    out.print(f"  reason: {decision.reason}", markup=False)
    if approve is not None:
        out.print(f"  outcome with --approve {approve} and no terminal: {outcome}", markup=False)
    elif decision.verdict == "ask":
        how = ("only a person at a terminal can approve it (outside every grant)"
               if decision.outside else "--approve auto allows it")
        out.print(f"  (without a terminal, or with --approve never, this is denied; {how})",
                  markup=False)
    raise typer.Exit(code)


@app.command("explain")
def explain(workspace: Path = WorkspaceOpt, mode: str | None = ModeOpt) -> None:
    """Show the grants, rules, protections and mode in effect for a workspace.

    Example: bastion policy explain
    """
    for line in _policy(workspace, mode).explain():
        out.print(line, markup=False)
    for line in describe_layers(load_settings()):  # the layers behind the rules' sources
        out.print(line, markup=False)

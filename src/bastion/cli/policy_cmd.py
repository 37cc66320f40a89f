"""``bastion policy check RULE`` and ``bastion policy explain``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer

from bastion.config import load_settings
from bastion.errors import BastionError
from bastion.home import bastion_home
from bastion.policy import Policy, build_policy
from bastion.policy.rules import FAMILIES, FILE_TOOLS

from .output import out, print_json

app = typer.Typer(help="Inspect the permission policy.", no_args_is_help=True)

WorkspaceOpt = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder (default: cwd).")
ModeOpt = typer.Option(None, "--mode", help="standard, strict or restricted.")

_REQUEST = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)
#: the tool a family name stands for when checking a request
_REPRESENTATIVE = {"read": "read_file", "write": "write_file", "edit": "edit_file",
                   "delete": "delete_file", "move": "move_file", "bash": "run_command",
                   "shell": "run_command", "fetch": "fetch_url", "webfetch": "fetch_url"}


def _policy(workspace: Path, mode: str | None) -> Policy:
    if mode is not None and mode not in ("standard", "strict", "restricted"):
        raise typer.BadParameter(f"{mode!r} is not one of standard, strict, restricted",
                                 param_hint="--mode")
    ws = workspace.expanduser().resolve()
    if not ws.is_dir():
        raise BastionError(f"workspace {workspace} is not a directory")
    return build_policy(load_settings(), ws, bastion_home=bastion_home(),
                        mode=mode, interactive=False)  # type: ignore[arg-type]


def _target(spec: str, workspace: Path) -> str:
    """A request's path specifier as a path (same anchors as rules)."""
    if spec.startswith("//"):
        return "/" + spec.lstrip("/")
    if spec.startswith("~"):
        return os.path.expanduser(spec)
    return str(workspace / spec.removeprefix("./")) if not spec.startswith("/") else spec


@app.command("check")
def check(
    request: str = typer.Argument(..., help="e.g. 'Write(./src/x.py)', 'Read(~/.ssh/id_rsa)'."),
    workspace: Path = WorkspaceOpt,
    mode: str | None = ModeOpt,
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show the decision for a request and the rule that makes it.

    Example: bastion policy check 'Write(src/app.py)'
    """
    m = _REQUEST.match(request)
    if not m or m.group(2) is None or not m.group(2).strip():
        raise BastionError(f"cannot parse {request!r}", hint="write Tool(target), e.g. "
                           "'Write(./src/x.py)' or 'Bash(npm test)'")
    name, spec = m.group(1), m.group(2).strip()
    if name.lower() not in FAMILIES and "_" not in name:
        raise BastionError(f"unknown tool {name!r}",
                           hint="use Read, Write, Edit, Delete, Move, Bash, Fetch or a tool name")
    tool = _REPRESENTATIVE.get(name.lower(), name)
    policy = _policy(workspace, mode)
    target = _target(spec, policy.workspace) if tool in FILE_TOOLS else spec
    decision = policy.decide(tool, target)
    if json_output:
        print_json({"request": request, "tool": tool, "target": target, **decision.to_json()})
        return
    out.print(f"{decision.verdict.upper()}  {request}", markup=False)
    out.print(f"  rule:   {decision.rule}", markup=False)
    out.print(f"  reason: {decision.reason}", markup=False)
    if decision.verdict == "ask":
        out.print("  (without a terminal, or with --approve never, this is denied; "
                  "--approve auto allows it)", markup=False)


@app.command("explain")
def explain(workspace: Path = WorkspaceOpt, mode: str | None = ModeOpt) -> None:
    """Show the grants, rules, protections and mode in effect for a workspace.

    Example: bastion policy explain
    """
    for line in _policy(workspace, mode).explain():
        out.print(line, markup=False)

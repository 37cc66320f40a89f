"""``bastion agents list|show NAME|validate [FILE]`` and ``bastion taskforces list``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from bastion.agent import (
    AgentCatalog,
    DefinitionError,
    check_narrowing,
    load_agent_file,
    load_agents,
    load_taskforce_file,
    load_taskforces,
    read_yaml,
)
from bastion.config import load_settings
from bastion.home import bastion_home
from bastion.policy import Policy, TrustStore, build_policy

from .output import err, out, print_json

app = typer.Typer(help="Agent definitions (built-in, user, project).", no_args_is_help=True)
taskforces_app = typer.Typer(help="Taskforces: an orchestrator and member agents.",
                             no_args_is_help=True)

WorkspaceOpt = typer.Option(Path("."), "--workspace", "-w", help="Project folder (default: cwd).")


def _context(workspace: Path) -> tuple[Path, Path, Policy]:
    ws = workspace.expanduser().resolve()
    home = bastion_home()
    policy = build_policy(load_settings(), ws, bastion_home=home)
    return ws, home, policy


def _catalog(workspace: Path) -> tuple[AgentCatalog, Path, Path]:
    ws, home, policy = _context(workspace)
    return load_agents(ws, home, policy=policy), ws, home


@app.command("list")
def list_agents(workspace: Path = WorkspaceOpt,
                json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every agent visible in this project (project > user > built-in).

    Example: bastion agents list
    """
    catalog, _, _ = _catalog(workspace)
    rows: list[dict[str, Any]] = []
    for name in catalog.names():
        if name in catalog.errors:
            origin, path = catalog.error_sources[name]
            rows.append({"id": name, "name": name, "origin": origin, "source": str(path),
                         "error": str(catalog.errors[name])})
            continue
        a = catalog.agents[name]
        rows.append({"id": name, "name": name, "origin": a.origin,
                     "source": str(a.source) if a.source else None,
                     "enabled": a.definition.enabled, "trusted": a.trusted,
                     "description": a.definition.description, "tools": a.definition.tools})
    if json_output:
        print_json(rows)
        return
    for row in rows:
        if "error" in row:
            out.print(f"{row['name']:16} {row['origin']:8} INVALID  {row['error']}", markup=False)
            continue
        flags = [] if row["enabled"] else ["disabled"]
        if not row["trusted"]:
            flags.append("untrusted: read-only")
        extra = f" [{', '.join(flags)}]" if flags else ""
        out.print(f"{row['name']:16} {row['origin']:8} {row['description']}{extra}", markup=False)


@app.command("show")
def show(name: str, workspace: Path = WorkspaceOpt,
         json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """One agent's definition and where it comes from.

    Example: bastion agents show reviewer
    """
    catalog, _, _ = _catalog(workspace)
    loaded = catalog.get(name) if name not in catalog.agents else catalog.agents[name]
    data = loaded.definition.model_dump(by_alias=True, exclude_none=True)
    meta = {"origin": loaded.origin, "source": str(loaded.source) if loaded.source else None,
            "trusted": loaded.trusted, "notes": loaded.notes}
    if json_output:
        print_json({**data, "_meta": meta})
        return
    out.print(f"# {loaded.where()} ({loaded.origin}"
              f"{'' if loaded.trusted else ', untrusted project: read-only tools and folders'})",
              markup=False)
    out.print(yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True).rstrip(),
              markup=False)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (prompts) as ``|`` blocks, as people write them."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def _validate_file(path: Path, policy: Policy) -> str:
    data = read_yaml(path)
    if "members" in data or "orchestrator" in data or path.parent.name == "taskforces":
        tf = load_taskforce_file(path)
        return f"taskforce {tf.name}"
    definition = load_agent_file(path)
    check_narrowing(definition.permissions, policy, str(path))
    return f"agent {definition.name}"


@app.command("validate")
def validate(file: Path | None = typer.Argument(None, help="One YAML file (default: all)."),
             workspace: Path = WorkspaceOpt) -> None:
    """Check definitions: schema, tool names, and that permissions only narrow the session's.

    Example: bastion agents validate .bastion/agents/tester.yaml
    """
    ws, home, policy = _context(workspace)
    problems: list[str] = []
    if file is not None:
        try:
            what = _validate_file(file, policy)
        except DefinitionError as exc:
            err.print(f"invalid: {exc}", markup=False)
            raise typer.Exit(1) from None
        out.print(f"ok: {file} ({what})", markup=False)
        return
    catalog = load_agents(ws, home, policy=policy)
    problems += [str(e) for e in catalog.errors.values()]
    taskforces, tf_errors = load_taskforces(ws, home)
    problems += [str(e) for e in tf_errors.values()]
    for tf in taskforces.values():
        for member in tf.definition.members:
            if member not in catalog.agents and member not in catalog.errors:
                problems.append(f"{tf.where()}: field 'members': unknown agent {member!r}")
    for p in problems:
        err.print(f"invalid: {p}", markup=False)
    if problems:
        raise typer.Exit(1)
    state = TrustStore(home).state(ws)
    trust = {"trusted": "trusted", "none": "has no .bastion/ definitions"}.get(
        state, f"{state} (its definitions are read-only until `bastion trust`)")
    out.print(f"ok: {len(catalog.agents)} agent(s), {len(taskforces)} taskforce(s); "
              f"project {trust}", markup=False)


@taskforces_app.command("list")
def list_taskforces(workspace: Path = WorkspaceOpt,
                    json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every taskforce visible in this project.

    Example: bastion taskforces list
    """
    ws, home, _ = _context(workspace)
    found, errors = load_taskforces(ws, home)
    rows: list[dict[str, Any]] = [
        {"id": n, "name": n, "origin": t.origin, "members": t.definition.members,
         "successCriteria": t.definition.success_criteria, "trusted": t.trusted,
         "description": t.definition.description} for n, t in sorted(found.items())]
    rows += [{"id": n, "name": n, "error": str(e)} for n, e in sorted(errors.items())]
    if json_output:
        print_json(rows)
        return
    for row in rows:
        if "error" in row:
            out.print(f"{row['name']:16} INVALID  {row['error']}", markup=False)
        else:
            out.print(f"{row['name']:16} {row['origin']:8} members: {', '.join(row['members'])}"
                      f" — {row['description']}", markup=False)

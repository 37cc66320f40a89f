"""``bastion config show|get|set|validate|path``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from bastion.config import (
    SettingsError,
    dump_settings,
    get_key,
    load_settings,
    origins_table,
    parse_settings,
    read_settings_json,
    settings_path,
)

from .output import err, out, print_json
from .run_input import parse_value

app = typer.Typer(help="User settings (settings.json, camelCase keys).", no_args_is_help=True)


@app.command("path")
def path() -> None:
    """Print where settings.json lives.

    Example: bastion config path
    """
    out.print(str(settings_path()), markup=False)


@app.command("show")
def show(origin: bool = typer.Option(False, "--origin", help="Name the layer (managed, role, "
                                     "user, default) that decided each value."),
         json_output: bool = typer.Option(False, "--json", help="With --origin: JSON lines."),
         workspace: Path = typer.Option(Path("."), "--workspace", "-w",
                                        help="With --origin: include this folder's project "
                                             "settings (default: cwd).")) -> None:
    """Print the effective settings (managed, role and user layers over the defaults).

    Example: bastion config show --origin
    """
    settings = load_settings()
    if origin:
        settings = _with_project(settings, workspace)
    if not origin:
        print_json(dump_settings(settings))
        return
    for key, value, layer in origins_table(settings):
        if json_output:
            out.print(json.dumps({"key": key, "value": value, "origin": layer}), markup=False,
                      soft_wrap=True)
        else:
            out.print(f"{key} = {json.dumps(value)}  [{layer}]", markup=False, soft_wrap=True)
    from bastion.config import layers_of

    layers = layers_of(settings)
    for refusal in layers.refusals if layers else []:
        err.print(f"refused: {refusal.message()}", markup=False)


def _with_project(settings: Any, workspace: Path) -> Any:
    """The project layer as the policy sees it: tightening only until trusted."""
    from bastion.config import PROJECT, with_layer
    from bastion.home import bastion_home
    from bastion.policy import TrustStore, project_settings

    ws = workspace.expanduser().resolve()
    project, ppath = project_settings(ws)
    if project is None:
        return settings
    trusted = TrustStore(bastion_home()).state(ws) == "trusted"
    raw = read_settings_json(ppath)
    return with_layer(settings, raw, PROJECT, f"project settings {ppath}",
                      tighten_all=not trusted)


@app.command("get")
def get(key: str = typer.Argument(..., help="Dotted key, e.g. network.allowedDomains")) -> None:
    """Print one effective setting as JSON.

    Example: bastion config get network.allowedDomains
    """
    p = settings_path()
    effective = dump_settings(load_settings())
    try:
        print_json(get_key(effective, key))
    except KeyError:
        raise SettingsError(f"{p}: unknown setting '{key}'") from None


@app.command("set")
def set_(key: str = typer.Argument(...),
         value: str = typer.Argument(..., help="JSON value (bare words are strings).")) -> None:
    """Change one setting; the file is validated before it is replaced.

    Example: bastion config set network.allowedDomains '["api.example.com"]'
    """
    from bastion.runtime import Runtime, SettingChange

    change = SettingChange.prepare(key, parse_value(value, "VALUE"))  # validated before unlocking
    with Runtime.open() as rt:  # a change that cannot be audited is not made
        change.apply(rt.audit)
    err.print(f"{key}: {json.dumps(change.old)} → {value}", markup=False)


@app.command("validate")
def validate(file: Path | None = typer.Argument(None, help="Settings file (default: user's).")) -> None:
    """Check a settings file; errors name the file, key and what was expected.

    Example: bastion config validate .bastion/settings.json
    """
    p = file or settings_path()
    if file is not None and not file.is_file():
        raise typer.BadParameter(f"{file} is not an existing file", param_hint="FILE")
    from bastion.policy import validate_rules

    parts = [read_settings_json(p)]
    if any(k in parts[0] for k in ("locked", "roles", "assignments")) \
            or p.name.startswith("managed"):
        from bastion.config import validate_managed

        parts = validate_managed(parts[0], p)  # a managed file: its own keys, roles too
    for data in parts:
        validate_rules(parse_settings(data, p), p)  # rules too: "Wirte(x)" fails
    err.print(f"{p}: valid", markup=False)

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
    parse_settings,
    read_settings_json,
    settings_path,
)

from .output import err, out, print_json

app = typer.Typer(help="User settings (settings.json, camelCase keys).", no_args_is_help=True)


@app.command("path")
def path() -> None:
    """Print where settings.json lives.

    Example: bastion config path
    """
    out.print(str(settings_path()), markup=False)


@app.command("show")
def show() -> None:
    """Print the effective settings (file merged over defaults).

    Example: bastion config show
    """
    p = settings_path()
    print_json(dump_settings(parse_settings(read_settings_json(p), p)))


@app.command("get")
def get(key: str = typer.Argument(..., help="Dotted key, e.g. network.allowedDomains")) -> None:
    """Print one effective setting as JSON.

    Example: bastion config get network.allowedDomains
    """
    p = settings_path()
    effective = dump_settings(parse_settings(read_settings_json(p), p))
    try:
        print_json(get_key(effective, key))
    except KeyError:
        raise SettingsError(f"{p}: unknown setting '{key}'") from None


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # a bare word is a string


@app.command("set")
def set_(key: str = typer.Argument(...),
         value: str = typer.Argument(..., help="JSON value (bare words are strings).")) -> None:
    """Change one setting; the file is validated before it is replaced.

    Example: bastion config set network.allowedDomains '["api.example.com"]'
    """
    from bastion.runtime import Runtime, SettingChange

    change = SettingChange.prepare(key, _parse_value(value))  # validated before unlocking
    with Runtime.open() as rt:  # a change that cannot be audited is not made
        change.apply(rt.audit)
    err.print(f"{key}: {json.dumps(change.old)} → {value}", markup=False)


@app.command("validate")
def validate(file: Path | None = typer.Argument(None, help="Settings file (default: user's).")) -> None:
    """Check a settings file; errors name the file, key and what was expected.

    Example: bastion config validate .bastion/settings.json
    """
    p = file or settings_path()
    parse_settings(read_settings_json(p), p)
    err.print(f"{p}: valid", markup=False)

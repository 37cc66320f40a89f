"""``bastion telemetry show|enable|disable`` — local-only usage statistics."""

from __future__ import annotations

import json

import typer

from bastion.config import read_settings_json, settings_path
from bastion.home import bastion_home
from bastion.rights import TELEMETRY_FILENAME as FILENAME
from bastion.rights import env_disabled, percentiles, read_stats
from bastion.runtime import Runtime

from .output import err, out

app = typer.Typer(help="Local-only usage statistics (never sent anywhere).",
                  no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print exactly what is stored (the file as-is), then what it means.

    Example: bastion telemetry show
    """
    path = bastion_home() / FILENAME
    if not path.exists():
        err.print(f"nothing is stored ({path} does not exist)", markup=False)
    else:
        out.print(path.read_text(encoding="utf-8"), markup=False, end="")
        stats = read_stats(path) or {}
        pcts = percentiles(stats)
        if pcts:
            err.print("model response times: " + ", ".join(f"{k} {v}" for k, v in pcts.items()),
                      markup=False)
    state = _state()
    err.print(f"telemetry is {state}; stored only in {path}; nothing is ever sent",
              markup=False)


def _state() -> str:
    p = settings_path()
    enabled = read_settings_json(p).get("telemetry", {}).get("enabled", True)
    if env_disabled():
        return "disabled (BASTION_TELEMETRY_DISABLED)"
    return "enabled" if enabled else "disabled"


def _set(enabled: bool) -> None:
    from bastion.runtime import SettingChange

    change = SettingChange.prepare("telemetry.enabled", enabled)
    with Runtime.open() as rt:  # like `config set`: a change that cannot be audited is not made
        change.apply(rt.audit, via="telemetry")  # refused (and audited) if managed forbids it
    err.print(f"telemetry.enabled: {json.dumps(change.old)} → {json.dumps(enabled)}",
              markup=False)


@app.command("enable")
def enable() -> None:
    """Count tool and model usage locally (telemetry.enabled = true).

    Example: bastion telemetry enable
    """
    _set(True)
    if env_disabled():
        err.print("note: BASTION_TELEMETRY_DISABLED is set, which overrides this", markup=False)


@app.command("disable")
def disable() -> None:
    """Record nothing (telemetry.enabled = false); the existing file is kept until deleted.

    Example: bastion telemetry disable
    """
    _set(False)
    err.print(f"to remove what was recorded: delete {bastion_home() / FILENAME}", markup=False)

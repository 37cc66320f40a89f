"""``bastion keys set|list|delete`` — provider API keys, sealed inside the encrypted database."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from bastion.runtime import Runtime

from .output import err, out, print_json

app = typer.Typer(help="Provider API keys (AES-256-GCM inside the encrypted database).",
                  no_args_is_help=True)


@app.command("set")
def set_(provider: str = typer.Argument(..., help="openai, anthropic, local, …"),
         key_id: str = typer.Option("default", "--id", help="Name of this key."),
         stdin: bool = typer.Option(False, "--stdin", help="Read the key from standard input.")) -> None:
    """Store an API key. It is read from a hidden prompt (or stdin), never from arguments."""
    if stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().strip()
    else:
        value = typer.prompt(f"API key for {provider}", hide_input=True).strip()
    if not value:
        raise typer.BadParameter("empty key")
    with Runtime.open() as rt:
        rt.api_keys.set(provider, value, key_id)
        rt.audit.record("user", "key-set", {"provider": provider, "key_id": key_id})
    err.print(f"stored key {provider}/{key_id}", markup=False)


@app.command("list")
def list_(json_output: bool = typer.Option(False, "--json")) -> None:
    """List stored keys (masked)."""
    with Runtime.open() as rt:
        keys = rt.api_keys.list()
    if json_output:
        print_json(keys)
        return
    table = Table("provider", "id", "key")
    for k in keys:
        table.add_row(k["provider"], k["key_id"], k["masked"])
    out.print(table)


@app.command("delete")
def delete(provider: str = typer.Argument(...),
           key_id: str = typer.Option("default", "--id")) -> None:
    """Delete a stored key."""
    with Runtime.open() as rt:
        found = rt.api_keys.delete(provider, key_id)
        if found:
            rt.audit.record("user", "key-delete", {"provider": provider, "key_id": key_id})
    if not found:
        err.print(f"no stored key {provider}/{key_id}", markup=False)
        raise typer.Exit(1)
    err.print(f"deleted key {provider}/{key_id}", markup=False)

"""``bastion keys set|list|delete`` — provider API keys, sealed inside the encrypted database."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from bastion.errors import BastionError
from bastion.runtime import Runtime

from .output import confirm, err, out, print_json

app = typer.Typer(help="Provider API keys (AES-256-GCM inside the encrypted database).",
                  no_args_is_help=True)


#: the names a stored key is looked up by (bastion.providers: providers that take a key)
KEY_NAMES = ("anthropic", "local", "openai", "s3")


@app.command("set")
def set_(provider: str = typer.Argument(..., help="anthropic, local, openai (or s3 for sync)."),
         key_id: str = typer.Option("default", "--id", help="Name of this key."),
         stdin: bool = typer.Option(False, "--stdin", help="Read the key from standard input.")) -> None:
    """Store an API key. It is read from a hidden prompt (or stdin), never from arguments.

    Example: printf %s "$OPENAI_API_KEY" | bastion keys set openai --stdin
    """
    if provider not in KEY_NAMES:
        raise typer.BadParameter(f"{provider!r} is not one of {', '.join(KEY_NAMES)}",
                                 param_hint="PROVIDER")
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
    """List stored keys (masked).

    Example: bastion keys list --json
    """
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
    """Delete a stored key.

    Example: bastion keys delete openai
    """
    with Runtime.open() as rt:
        found = rt.api_keys.delete(provider, key_id)
        if found:
            rt.audit.record("user", "key-delete", {"provider": provider, "key_id": key_id})
    if not found:
        err.print(f"no stored key {provider}/{key_id}", markup=False)
        raise typer.Exit(1)
    err.print(f"deleted key {provider}/{key_id}", markup=False)


@app.command("rotate")
def rotate(yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
           ) -> None:
    """Replace the master key and re-encrypt everything with it (crash-safe).

    Run it while no other Bastion command is running.

    Example: bastion keys rotate --yes
    """
    from bastion.rights import rotate_master_key

    with Runtime.open() as rt:
        report = rt.audit.verify()  # never re-MAC (and so launder) a chain that is broken
        if not report.ok:
            raise BastionError(f"the audit log does not verify ({report.summary()}); "
                               "key rotation refused",
                               hint="run `bastion audit verify` and investigate first")
        confirm(yes, "Rotate the master key and re-encrypt all data?")
        home, settings, vault = rt.home, rt.settings, rt.vault
    # the runtime is closed: nothing holds the old database open while it is replaced
    result = rotate_master_key(home, vault, lambda msg: err.print(msg + " …", markup=False))
    with Runtime.attach(home, settings, vault) as rt:
        rt.audit.record("user", "rotate-key", {"new_key_id": result.new_key_id,
                                               "api_keys": result.api_keys,
                                               "audit_records": result.audit_records,
                                               "journal_blobs": result.blobs})
    err.print(f"master key rotated (new key id {result.new_key_id}): database, "
              f"{result.api_keys} API key(s), {result.blobs} saved file version(s) and "
              f"{result.audit_records} audit record(s) re-encrypted", markup=False)

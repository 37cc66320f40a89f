"""``bastion sync init|join|now|status|devices|revoke`` and ``bastion delete --remote``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bastion import sync
from bastion.config import load_settings
from bastion.errors import BastionError
from bastion.runtime import Runtime, SettingChange

from .output import err, new_passphrase, out, print_json

RECOVERY_PASSPHRASE_ENV = "BASTION_RECOVERY_PASSPHRASE"

app = typer.Typer(help="End-to-end-encrypted sync to storage you own (S3-compatible or a "
                       "folder).", no_args_is_help=True)

_S3 = typer.Option(None, "--s3", help="S3-compatible endpoint URL, e.g. https://s3.eu-west-1."
                   "amazonaws.com or http://127.0.0.1:8333 (a loopback URL only when you "
                   "write it here).")
_BUCKET = typer.Option(None, "--bucket", help="Bucket name (with --s3).")
_PREFIX = typer.Option(None, "--prefix", help="Key prefix inside the bucket (with --s3).")
_FOLDER = typer.Option(None, "--folder", help="A folder (Syncthing, Dropbox, a USB disk…).")
_REGION = typer.Option(None, "--region", help="S3 region (default us-east-1).")
_NAME = typer.Option(None, "--name", help="This device's name (default: host name).")
_JSON = typer.Option(False, "--json", help="Print JSON.")


class _UsageError(BastionError):
    exit_code = 2


def _recovery_passphrase() -> str:
    return new_passphrase(RECOVERY_PASSPHRASE_ENV, "a recovery file",
                          prompt="Recovery file passphrase: ", nothing="no file written")


def _conf(s3: str | None, bucket: str | None, prefix: str | None, folder: Path | None,
          region: str | None) -> dict[str, Any]:
    try:
        return sync.backend_settings(s3=s3, bucket=bucket, prefix=prefix, folder=folder,
                                     region=region)
    except sync.SyncConfigError as exc:
        raise _UsageError(exc.message) from None


def _backend(rt: Runtime, conf: dict[str, Any] | None = None) -> sync.Backend:
    return sync.open_backend(rt.settings, conf, lambda: rt.api_keys.get("s3"))


def _save_conf(rt: Runtime, conf: dict[str, Any] | None) -> None:
    """The ``sync`` settings key (location only), through the one audited settings writer."""
    value = {k: v for k, v in conf.items() if v is not None} if conf is not None else None
    change = SettingChange.prepare("sync", value, remove=conf is None)
    if change.changed:
        change.apply(rt.audit)


def _write_recovery(rt: Runtime, conf: dict[str, Any], path: Path) -> None:
    from pyrage import passphrase as age_passphrase

    from bastion.fsutil import atomic_write_text

    blob = age_passphrase.encrypt(sync.recovery_document(rt.db, conf), _recovery_passphrase())
    atomic_write_text(path, blob.hex())  # age binary, hex-armoured
    err.print(f"recovery file written to {path} (age, passphrase-encrypted); keep it offline",
              markup=False)


@app.command("init")
def init(s3: str | None = _S3, bucket: str | None = _BUCKET, prefix: str | None = _PREFIX,
         folder: Path | None = _FOLDER, region: str | None = _REGION, name: str | None = _NAME,
         recovery_file: Path | None = typer.Option(None, "--recovery-file", help="Also write a "
                                                   "passphrase-encrypted recovery file."),
         json_output: bool = _JSON) -> None:
    """Create a sync space (first device) and print a one-time pairing code for the next.

    On a device that already syncs, prints a new pairing code.

    Example: bastion sync init --folder /mnt/usb/bastion-sync
    """
    conf = _conf(s3, bucket, prefix, folder, region)
    current = load_settings().sync
    if current.backend and {k: v for k, v in current.model_dump().items() if v} != \
            {k: v for k, v in conf.items() if v}:
        raise BastionError("sync is already set up with another location",
                           hint="`bastion delete --remote` first to move")
    with Runtime.open() as rt:
        backend = _backend(rt, conf)
        pairing = sync.init_space(rt.db, backend, name)
        if not current.backend:
            _save_conf(rt, conf)
        rt.audit.record("user", "sync-init", {"backend": conf["backend"], "device":
                                              pairing.device_id, "created": pairing.created_space})
        if recovery_file is not None:
            _write_recovery(rt, conf, recovery_file)
    if not pairing.conditional_writes:
        err.print("warning: this store ignores conditional writes (If-None-Match); two devices "
                  "syncing at the same moment could overwrite each other's manifest updates",
                  markup=False)
    if json_output:
        print_json({"pairing_code": pairing.code, "device_id": pairing.device_id,
                    "backend": conf["backend"], "created": pairing.created_space,
                    "conditional_writes": pairing.conditional_writes})
        return
    out.print(pairing.code, markup=False)
    err.print("one-time pairing code (valid 24 h): on the other device run "
              "`bastion sync join CODE` with the same location flags", markup=False)
    if recovery_file is None and pairing.created_space:
        err.print("tip: `bastion sync init … --recovery-file FILE` writes a passphrase-protected "
                  "recovery file (if every device is lost, it is the only way back)", markup=False)


@app.command("join")
def join(code: str | None = typer.Argument(None, help="The pairing code from `sync init`."),
         s3: str | None = _S3, bucket: str | None = _BUCKET, prefix: str | None = _PREFIX,
         folder: Path | None = _FOLDER, region: str | None = _REGION, name: str | None = _NAME,
         recovery_file: Path | None = typer.Option(None, "--recovery-file",
                                                   help="Join with a recovery file instead."),
         json_output: bool = _JSON) -> None:
    """Join this device to a sync space, then run a first sync.

    Example: bastion sync join CODE --folder /mnt/usb/bastion-sync
    """
    conf = _conf(s3, bucket, prefix, folder, region)
    if (code is None) == (recovery_file is None):
        raise _UsageError("give the pairing CODE or --recovery-file FILE (one of them)")
    with Runtime.open() as rt:
        backend = _backend(rt, conf)
        if recovery_file is not None:
            ident = sync.recover_space(rt.db, backend, _read_recovery(recovery_file), name)
        else:
            ident = sync.join_space(rt.db, backend, code or "", name)
        _save_conf(rt, conf)
        rt.audit.record("user", "sync-join", {"backend": conf["backend"],
                                              "device": ident.device_id})
        report = _run(rt, backend)
    if json_output:
        print_json({"device_id": ident.device_id, **report.to_json()})
        return
    err.print(f"joined as device {ident.device_id} ({ident.device_name}); "
              f"pulled {report.pulled_segments} segment(s)", markup=False)


def _read_recovery(path: Path) -> bytes:
    from pyrage import passphrase as age_passphrase

    try:
        blob = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise BastionError(f"{path}: not a recovery file ({exc})") from None
    try:
        return bytes(age_passphrase.decrypt(blob, _recovery_passphrase()))
    except Exception:
        raise BastionError(f"{path}: wrong passphrase or damaged recovery file") from None


@contextlib.contextmanager
def _bar() -> Iterator[Any]:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("sync", total=None)
        yield lambda done, total, what: bar.update(task, completed=done, total=total,
                                                   description=what)


def _run(rt: Runtime, backend: sync.Backend) -> sync.SyncReport:
    from bastion.rights import delete_session

    def delete_local(session_id: str) -> None:
        delete_session(rt, session_id, reason="sync-tombstone")

    scrub = sync.make_scrub(rt.settings, rt.api_keys.all_values())
    with _bar() as progress:
        try:
            report = sync.Engine(rt.db, rt.home, backend, scrub, delete_local, progress).run()
        except BastionError as exc:
            rt.audit.record("user", "sync-refused", {"error": exc.message})
            raise
    rt.audit.record("user", "sync", report.to_json())
    return report


@app.command("now")
def now(json_output: bool = _JSON) -> None:
    """Push local changes and pull the other devices' (progress bar on a terminal).

    Example: bastion sync now
    """
    with Runtime.open() as rt:
        report = _run(rt, _backend(rt))
    if json_output:
        print_json(report.to_json())
        return
    err.print(f"synced with {report.devices} device(s) in {report.seconds:.2f} s: pushed "
              f"{report.pushed_segments}, pulled {report.pulled_segments} segment(s); "
              f"{len(report.tombstoned)} session deletion(s), {report.deleted_remote} remote "
              "object(s) removed", markup=False)
    if report.waiting:
        err.print(f"not read yet (still on a key from before the last revocation, until they "
                  f"sync): {', '.join(report.waiting)}", markup=False)


@app.command("status")
def status(json_output: bool = _JSON) -> None:
    """Whether this device syncs, where to, and when it last did.

    Example: bastion sync status --json
    """
    settings = load_settings()
    with Runtime.open(settings) as rt:
        info = sync.status(rt.db)
    info["backend"] = {k: v for k, v in settings.sync.model_dump().items() if v}
    if json_output:
        print_json(info)
        return
    if not info["configured"]:
        out.print("sync: not set up (bastion sync init --folder DIR | --s3 URL --bucket B)",
                  markup=False)
        return
    for key, value in info.items():
        out.print(f"{key}: {value}", markup=False)


@app.command("devices")
def devices(json_output: bool = _JSON) -> None:
    """The devices of this sync space.

    Example: bastion sync devices
    """
    with Runtime.open() as rt:
        rows = sync.devices(rt.db, _backend(rt))
    if json_output:
        print_json(rows)
        return
    for d in rows:
        flags = " (this device)" if d["this_device"] else ""
        flags += " REVOKED" if d["revoked"] else ""
        out.print(f"{d['id']}  {d['name']}{flags}", markup=False)


@app.command("revoke")
def revoke(device: str = typer.Argument(..., help="Device id (or unique prefix, or name).")
           ) -> None:
    """Revoke a device: it gets no key for anything written from now on (new key epoch).

    Example: bastion sync revoke laptop
    """
    with Runtime.open() as rt:
        epoch = sync.revoke_device(rt.db, _backend(rt), device)
        rt.audit.record("user", "sync-revoke", {"device": device, "epoch": epoch})
    err.print(f"revoked {device}; new objects use key epoch {epoch}. It can still read what "
              "it already had. A recovery file made before now no longer pairs.", markup=False)


def delete_remote(yes: bool) -> None:
    """``bastion delete --remote``: list, delete, verify empty, forget the vault key."""
    settings = load_settings()
    if not settings.sync.backend:
        raise BastionError("sync is not configured, so there is no remote data to delete",
                           hint="nothing was deleted; local data is removed with --all")
    with Runtime.open(settings) as rt:
        backend = _backend(rt)
        names = backend.list()
        if not yes:
            if not sys.stdin.isatty():
                raise BastionError("confirmation needed and there is no terminal to ask",
                                   hint="add --yes to confirm; nothing was deleted")
            if not typer.confirm(f"Delete all {len(names)} sync object(s) at "
                                 f"{backend.description} and forget the sync key?"):
                raise typer.Abort()
        deleted, left = sync.delete_remote(rt.db, backend)
        _save_conf(rt, None)
        rt.audit.record("user", "sync-delete-remote", {"deleted": deleted, "left": left})
    err.print(f"deleted {deleted} object(s) at {backend.description}; verified empty; "
              "the sync key is forgotten on this device", markup=False)

"""POST handlers: every change goes through the same package functions, journal and audit as
the CLI, and is recorded with ``"via": "ui"``. Destructive ones need a ticked confirmation."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bastion.config import load_settings
from bastion.errors import BastionError
from bastion.rights import ExportOptions, delete_all, delete_project, delete_session, export_data
from bastion.runtime import Runtime, SettingChange

from .state import UiState
from .web import NotConfirmed, back, failed, locked, read_form, render, require_confirm

MIN_PASSPHRASE = 8


async def _handle(request: Request, work: Any, page: str) -> Response:
    """Read the form, run ``work(state, form) -> message`` under the lock, redirect back."""
    try:
        form = await read_form(request)
        msg = await locked(request, lambda state: work(state, form))
    except BastionError as exc:
        return failed(request, exc)
    return back(request, page, msg)


def _delete_session(state: UiState, form: dict[str, str]) -> str:
    require_confirm(form)
    rt = state.runtime
    info = rt.sessions.resolve(form.get("session", "").strip())
    result = delete_session(rt, info.id)
    return (f"deleted session {result.session_id} ({result.blobs_deleted} saved file "
            f"version(s), {result.audit_blanked} audit payload(s) blanked)")


async def session_delete(request: Request) -> Response:
    return await _handle(request, _delete_session, "/sessions")


async def data_delete_session(request: Request) -> Response:
    return await _handle(request, _delete_session, "/data")


def _journal_result(state: UiState, verb: str, result: Any) -> str:
    state.runtime.audit.record("user", verb, {
        "operations": result.reverted, "recorded_as": result.op.id,
        "forced": [str(p) for p in result.forced], "via": "ui"})
    done = "undone" if verb == "undo" else "redone"
    return f"{done} {len(result.reverted)} operation(s): {', '.join(result.reverted)}"


async def undo(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        from bastion.journal import open_journal  # loads the policy's parsers: on first use

        journal = open_journal(state.runtime)
        op = journal.get(form.get("op", "").strip())
        return _journal_result(state, "undo", journal.undo([op],
                                                           force=form.get("force") == "yes"))
    return await _handle(request, work, "/changes")


async def redo(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        from bastion.journal import open_journal

        result = open_journal(state.runtime).redo(force=form.get("force") == "yes")
        return _journal_result(state, "redo", result)
    return await _handle(request, work, "/changes")


def _setting_value(key: str, raw: str) -> Any:
    """The form's text as the JSON value ``config set`` would receive for these keys."""
    if key in ("telemetry.enabled", "telemetry.crashReports", "securityMode", "offlineMode"):
        if raw not in ("true", "false"):
            raise BastionError(f"{key}: expected true or false")
        return raw == "true"
    if key == "network.allowedDomains":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if key == "retention.days":
        return int(raw) if raw.strip().isdigit() else (None if not raw.strip() else raw)
    raise BastionError(f"{key}: not a setting this page changes (use `bastion config set`)")


async def settings_set(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        key = form.get("key", "")
        change = SettingChange.prepare(key, _setting_value(key, form.get("value", "")))
        if not change.changed:
            return f"{key} unchanged"
        change.apply(state.runtime.audit, via="ui")
        state.runtime.settings = load_settings()
        return f"{key}: {json.dumps(change.old)} → {json.dumps(change.new)}"
    return await _handle(request, work, "/settings")


async def data_delete_project(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        require_confirm(form)
        deleted = delete_project(state.runtime.home, Path(form.get("project", "").strip()))
        state.runtime.audit.record("user", "delete", {"what": "project", "via": "ui",
                                                      "project": str(deleted.project)})
        what = "removed" if deleted.removed else "had no .bastion folder"
        return f"{deleted.project}: {what}" + ("; trust record removed" if deleted.untrusted
                                              else "")
    return await _handle(request, work, "/data")


async def data_delete_all(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        require_confirm(form)
        if form.get("phrase", "").strip().lower() != "delete everything":
            raise NotConfirmed("type 'delete everything' to confirm; nothing was deleted")
        if state.runs.active() is not None:
            raise BastionError("a run is in progress; nothing was deleted")
        rt = state.runtime
        home, settings = rt.home, rt.settings
        state.rt = None
        rt.close()
        gone = delete_all(home, settings)
        state.shutdown()  # nothing is left to serve
        return (f"deleted all Bastion data: {gone.files_removed} file(s), "
                f"{gone.keychain_entries_removed} keychain entr(y/ies); the master key is "
                "destroyed and this UI has stopped")
    try:
        form = await read_form(request)
        message = await locked(request, lambda state: work(state, form))
    except BastionError as exc:
        return failed(request, exc)
    return render(request, "done.html", message=message)


async def data_delete_remote(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        from bastion import sync

        require_confirm(form)
        rt = state.runtime
        settings = load_settings()
        if not settings.sync.backend:
            raise BastionError("sync is not configured, so there is no remote data to delete")
        backend = sync.open_backend(settings, None, lambda: rt.api_keys.get("s3"))
        deleted, left = sync.delete_remote(rt.db, backend)  # verifies the store is empty
        SettingChange.prepare("sync", None, remove=True).apply(rt.audit, via="ui")
        rt.audit.record("user", "sync-delete-remote", {"deleted": deleted, "left": left,
                                                       "via": "ui"})
        return (f"deleted {deleted} object(s) at {backend.description}; verified empty; the "
                "sync key is forgotten on this device")
    return await _handle(request, work, "/data")


async def data_export(request: Request) -> Response:
    try:
        form = await read_form(request)
        passphrase = None
        if form.get("encrypt") == "yes":
            passphrase = form.get("passphrase", "")
            if len(passphrase) < MIN_PASSPHRASE:
                raise BastionError("passphrase too short (at least 8 characters); "
                                   "nothing was exported")
            if form.get("passphrase2") != passphrase:
                raise BastionError("the passphrases do not match; nothing was exported")
        tmp = Path(tempfile.mkdtemp(prefix="bastion-ui-export-"))  # mode 0700
        name = "bastion-export.zip" + (".age" if passphrase else "")
        opts = ExportOptions(out=tmp / name, session=form.get("session", "").strip() or None,
                             include_backups=form.get("include_backups") == "yes",
                             passphrase=passphrase)

        def work(state: UiState) -> None:
            export_data(state.runtime, opts)
        try:
            await locked(request, work)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except BastionError as exc:
        return failed(request, exc)
    return FileResponse(opts.out, filename=name, media_type="application/octet-stream",
                        background=BackgroundTask(shutil.rmtree, tmp, True))


async def audit_export(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        fmt = form.get("format", "jsonl")
        rt = state.runtime
        buf = io.StringIO()
        count = rt.audit.export(buf, fmt)
        rt.audit.record("user", "export", {"what": "audit", "format": fmt, "records": count,
                                           "out": "download", "via": "ui"})
        return buf.getvalue()
    try:
        form = await read_form(request)
        text = await locked(request, lambda state: work(state, form))
    except BastionError as exc:
        return failed(request, exc)
    fmt = "csv" if form.get("format") == "csv" else "jsonl"
    return Response(text, media_type="text/csv" if fmt == "csv" else "application/x-ndjson",
                    headers={"content-disposition": f'attachment; filename="audit.{fmt}"'})


async def keys_set(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        provider, key_id = form.get("provider", "").strip(), form.get("key_id", "").strip()
        value = form.get("value", "").strip()
        if not provider or not value:
            raise BastionError("give a provider and a key")
        state.runtime.api_keys.set(provider, value, key_id or "default")
        state.runtime.audit.record("user", "key-set", {"provider": provider,
                                                       "key_id": key_id or "default",
                                                       "via": "ui"})
        return f"stored key {provider}/{key_id or 'default'}"
    return await _handle(request, work, "/keys")


async def keys_delete(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        require_confirm(form)
        provider, key_id = form.get("provider", ""), form.get("key_id", "default")
        if not state.runtime.api_keys.delete(provider, key_id):
            raise BastionError(f"no stored key {provider}/{key_id}")
        state.runtime.audit.record("user", "key-delete", {"provider": provider,
                                                          "key_id": key_id, "via": "ui"})
        return f"deleted key {provider}/{key_id}"
    return await _handle(request, work, "/keys")


async def keys_rotate(request: Request) -> Response:
    def work(state: UiState, form: dict[str, str]) -> str:
        from bastion.rights import rotate_master_key

        require_confirm(form)
        if state.runs.active() is not None:
            raise BastionError("a run is in progress; the key was not rotated")
        rt = state.runtime
        report = rt.audit.verify()  # never re-MAC (and so launder) a chain that is broken
        if not report.ok:
            raise BastionError(f"the audit log does not verify ({report.summary()}); "
                               "key rotation refused")
        home, settings, vault = rt.home, rt.settings, rt.vault
        state.rt = None
        rt.close()  # nothing may hold the old database open while it is replaced
        try:
            result = rotate_master_key(home, vault)
        finally:
            state.rt = Runtime.attach(home, settings, vault)
        state.runtime.audit.record("user", "rotate-key", {
            "new_key_id": result.new_key_id, "api_keys": result.api_keys,
            "audit_records": result.audit_records, "journal_blobs": result.blobs, "via": "ui"})
        return f"master key rotated (new key id {result.new_key_id})"
    return await _handle(request, work, "/keys")

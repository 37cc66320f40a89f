"""GET handlers: sessions, changes, audit, network, settings, data rights, keys."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bastion.config import dump_settings, get_key, layers_of, load_settings
from bastion.errors import BastionError
from bastion.rights import env_disabled

from . import views
from .state import UiState
from .web import back, failed, locked, render

SETTINGS_SHOWN = ["telemetry.enabled", "telemetry.crashReports", "securityMode", "offlineMode",
                  "network.allowedDomains", "retention.days"]


def _int(request: Request, name: str, default: int, high: int) -> int:
    try:
        return max(1, min(high, int(request.query_params.get(name, default))))
    except ValueError:
        return default


async def home(request: Request) -> Response:
    return back(request, "/sessions")


async def sessions(request: Request) -> Response:
    q = request.query_params.get("q", "").strip()
    limit = _int(request, "limit", 1000, 10_000)

    def load(state: UiState) -> list[tuple[object, str]]:
        rt = state.runtime
        if q:
            return list(rt.sessions.search(q, limit))
        return [(s, "") for s in rt.sessions.list(limit)]
    try:
        rows = await locked(request, load)
    except BastionError as exc:
        return failed(request, exc)
    return render(request, "sessions.html", rows=rows, q=q)


async def session_view(request: Request) -> Response:
    sid = request.path_params["sid"]

    def load(state: UiState) -> dict[str, Any]:
        rt = state.runtime
        info = rt.sessions.resolve(sid)
        calls = rt.sessions.tool_calls(info.id)
        return {"info": info, "messages": rt.sessions.messages(info.id),
                "calls": {c["id"]: c for c in calls}, "events": rt.sessions.events(info.id)}
    try:
        data = await locked(request, load)
    except BastionError as exc:
        return failed(request, exc, 404)
    return render(request, "session.html", **data)


async def changes(request: Request) -> Response:
    session = request.query_params.get("session") or None
    limit = _int(request, "limit", 100, 1000)
    try:
        ops = await locked(request, lambda s: views.changes_view(s.runtime, session, limit))
    except BastionError as exc:
        return failed(request, exc)
    return render(request, "changes.html", ops=ops, session=session or "")


async def audit(request: Request) -> Response:
    p = request.query_params
    filters = {"category": p.get("category", ""), "session": p.get("session", ""),
               "since": p.get("since", "")}
    limit = _int(request, "limit", 200, 5000)
    verify = p.get("verify") == "1"

    def load(state: UiState) -> dict[str, Any]:
        rt = state.runtime
        entries = views.audit_entries(rt, category=filters["category"],
                                      session=filters["session"], since=filters["since"],
                                      limit=limit)
        return {"entries": entries, "report": rt.audit.verify() if verify else None}
    try:
        data = await locked(request, load)
    except BastionError as exc:
        return failed(request, exc)
    from bastion.audit import CATEGORIES

    return render(request, "audit.html", filters=filters, categories=sorted(CATEGORIES), **data)


async def network(request: Request) -> Response:
    limit = _int(request, "limit", 200, 5000)
    try:
        entries = await locked(request, lambda s: views.audit_entries(
            s.runtime, category="network", session=None, since=None, limit=limit))
    except BastionError as exc:
        return failed(request, exc)
    return render(request, "network.html", entries=entries)


def _origins(settings: Any) -> tuple[dict[str, str], dict[str, bool]]:
    """Which layer decided each shown key, and whether managed settings lock it."""
    layers = layers_of(settings)
    origins = {k: layers.origin(k) if layers else "user" for k in SETTINGS_SHOWN}
    locked = {k: bool(layers and layers.is_locked(k)) for k in SETTINGS_SHOWN}
    return origins, locked


async def settings(request: Request) -> Response:
    def load(state: UiState) -> dict[str, Any]:
        current = load_settings()  # managed → role → user, as a run sees them
        effective = dump_settings(current)
        origins, locked = _origins(current)
        return {"values": {k: get_key(effective, k) for k in SETTINGS_SHOWN},
                "origins": origins, "locked": locked,
                "telemetry_record": views.telemetry_record(state.runtime.home),
                "telemetry_env_off": env_disabled()}
    try:
        data = await locked(request, load)
    except BastionError as exc:
        return failed(request, exc)
    return render(request, "settings.html", **data)


async def data(request: Request) -> Response:
    try:
        home_dir, sync = await locked(request, lambda s: (str(s.runtime.home),
                                                          views.sync_configured()))
    except BastionError as exc:
        return failed(request, exc)
    return render(request, "data.html", home=home_dir, sync=sync)


async def keys(request: Request) -> Response:
    def load(state: UiState) -> list[dict[str, str]]:
        # provider and name only: a key (even masked) is never sent to the page
        return [{"provider": k["provider"], "key_id": k["key_id"]}
                for k in state.runtime.api_keys.list()]
    try:
        rows = await locked(request, load)
    except BastionError as exc:
        return failed(request, exc)
    return render(request, "keys.html", keys=rows)


async def audit_stream(request: Request) -> Response:
    """New audit records as Server-Sent Events (the audit page's live tail)."""
    import asyncio
    import functools
    import json

    from starlette.responses import StreamingResponse

    try:
        after = int(request.query_params.get("after", "0"))
    except ValueError:
        after = 0

    def newer(state: UiState, seq: int) -> list[dict[str, Any]]:
        rows = []
        for entry, payload in views.audit_entries(state.runtime, category=None, session=None,
                                                  since=None, limit=200, after_seq=seq):
            rows.append({"seq": entry.seq, "time": entry.time[:19], "category": entry.category,
                         "action": entry.action, "session_id": entry.session_id or "",
                         "payload": payload})
        return rows

    async def stream() -> Any:
        seq = after
        while not await request.is_disconnected():
            try:
                rows = await locked(request, functools.partial(newer, seq=seq))
            except BastionError:
                return
            for row in reversed(rows):  # oldest first
                seq = max(seq, row["seq"])
                data = json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)
                yield f"id: {row['seq']}\nevent: record\ndata: {data}\n\n".encode()
            if not rows:
                yield b": keep-alive\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(stream(), media_type="text/event-stream")

"""The run page: start a run, follow it over Server-Sent Events, answer its approvals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from bastion.errors import BastionError

from .web import read_form, render, state_of

PROVIDERS = ("embedded", "local", "openai", "anthropic", "replay")
MODES = ("standard", "strict", "restricted")


async def run_page(request: Request) -> Response:
    active = state_of(request).runs.active()
    return render(request, "run.html", providers=PROVIDERS, modes=MODES,
                  active=active.id if active else "", cwd=str(Path.cwd()))


def _options(form: dict[str, str]) -> Any:
    from bastion.agent import RunOptions

    task = form.get("task", "").strip()
    if not task:
        raise BastionError("give the task to run")
    provider = form.get("provider") or None
    mode = form.get("mode") or None
    if provider is not None and provider not in PROVIDERS:
        raise BastionError(f"unknown provider {provider!r}")
    if mode is not None and mode not in MODES:
        raise BastionError(f"unknown mode {mode!r}")
    workspace = form.get("workspace", "").strip()
    if not workspace:
        raise BastionError("give the workspace folder")
    script = form.get("script", "").strip()
    return RunOptions(task=task, workspace=Path(workspace), provider=provider,
                      model=form.get("model", "").strip() or None,
                      mode=mode,  # type: ignore[arg-type]
                      offline=form.get("offline") == "yes", approve="ask",
                      script=Path(script) if script else None)


async def run_start(request: Request) -> Response:
    try:
        form = await read_form(request)
        run = state_of(request).runs.start(_options(form), chat=form.get("chat") == "yes")
    except BastionError as exc:
        return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=400)
    return JSONResponse({"run_id": run.id})


async def run_events(request: Request) -> Response:
    run = state_of(request).runs.runs.get(request.path_params["rid"])
    if run is None:
        return JSONResponse({"error": "unknown run"}, status_code=404)
    try:
        start = int(request.headers.get("last-event-id", "-1")) + 1
    except ValueError:
        start = 0

    async def stream() -> AsyncIterator[bytes]:
        index = start
        while True:
            events, done = await run_in_threadpool(run.since, index, 15.0)
            for event in events:
                data = json.dumps({"kind": event["kind"], **event["data"]}, ensure_ascii=False)
                yield f"id: {event['id']}\nevent: {event['kind']}\ndata: {data}\n\n".encode()
                index = event["id"] + 1
            if done and not events:
                yield b"event: end\ndata: {}\n\n"
                return
            if not events:
                yield b": keep-alive\n\n"
            if await request.is_disconnected():
                return

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"x-accel-buffering": "no"})


async def run_approve(request: Request) -> Response:
    run = state_of(request).runs.runs.get(request.path_params["rid"])
    if run is None:
        return JSONResponse({"error": "unknown run"}, status_code=404)
    form = await read_form(request)
    if not run.answer(form.get("approval_id", ""), form.get("answer", "")):
        return JSONResponse({"error": "no such open question, or not a valid answer"},
                            status_code=409)
    return JSONResponse({"ok": True})


async def run_say(request: Request) -> Response:
    """A follow-up message to an open chat (``message``), or ``end=yes`` to close it."""
    run = state_of(request).runs.runs.get(request.path_params["rid"])
    if run is None:
        return JSONResponse({"error": "unknown run"}, status_code=404)
    form = await read_form(request)
    message = None if form.get("end") == "yes" else form.get("message", "").strip()
    if message == "":
        return JSONResponse({"error": "empty message"}, status_code=400)
    if not run.say(message):
        return JSONResponse({"error": "this run is not an open chat"}, status_code=409)
    return JSONResponse({"ok": True})

"""Network audit records: what went where, never what was said (no bodies, no headers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

#: receives one dict per request, allowed or refused (the lead wires it to the audit log)
Recorder = Callable[[dict[str, Any]], None]

MAX_PATH_CHARS = 512


def redacted_target(url: httpx.URL) -> str:
    """The path with query keys kept and values dropped: ``/search?q=&page=``.

    Keys say what kind of request it was; values are where data (or an exfiltrated secret)
    would ride, so they stay out of the log.
    """
    target = url.path or "/"
    if url.query:
        keys = [part.split(b"=", 1)[0].decode("ascii", "replace")
                for part in url.query.split(b"&") if part]
        target += "?" + "&".join(f"{k}=" for k in keys)
    if len(target) > MAX_PATH_CHARS:
        target = target[:MAX_PATH_CHARS] + "…"
    return target


def make_record(
    request: httpx.Request,
    *,
    purpose: str,
    decision: str,
    rule: str,
    reason: str | None = None,
    status: int | None = None,
    bytes_out: int = 0,
    bytes_in: int = 0,
    duration_ms: float = 0.0,
    via_proxy: bool = False,
    error: str | None = None,
) -> dict[str, Any]:
    url = request.url
    return {
        "type": "network",
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": request.method,
        "scheme": url.scheme,
        "host": url.host,
        "port": url.port or (443 if url.scheme == "https" else 80),
        "path": redacted_target(url),
        "purpose": purpose,
        "decision": decision,
        "rule": rule,
        "reason": reason,
        "status": status,
        "bytes_out": bytes_out,
        "bytes_in": bytes_in,
        "duration_ms": round(duration_ms, 3),
        "via_proxy": via_proxy,
        "error": error,
    }

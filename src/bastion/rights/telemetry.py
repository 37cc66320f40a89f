"""Local-only, content-free usage statistics in ``BASTION_HOME/telemetry.json``.

What is counted: built-in tool names, agent kinds, model names, request and error counts,
and a histogram of model response times (for percentiles). Never message content, file
contents, arguments, paths, project or MCP server names, or keys: every name is checked
against an allowlist or a strict pattern before it is counted. There is **no network
endpoint** — this module opens no socket; the file is for the user (``bastion telemetry
show``) and for attaching to a bug report if they choose to.

Disabled (``telemetry.enabled: false`` or ``BASTION_TELEMETRY_DISABLED=1``) means nothing at
all: the file is not created, opened, read or touched.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import os
import re
import traceback
from pathlib import Path
from typing import Any

from bastion import jsonsafe
from bastion.fsutil import atomic_write_json

ENV_DISABLED = "BASTION_TELEMETRY_DISABLED"
FILENAME = "telemetry.json"
CRASH_DIR = "crash-reports"
VERSION = 1

BUILTIN_TOOLS = frozenset({
    "read_file", "write_file", "edit_file", "list_dir", "glob", "grep", "delete_file",
    "move_file", "run_command", "fetch_url",
})
#: upper bounds (ms) of the response-time histogram buckets; the last bucket is open-ended
BUCKETS_MS = (50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000)
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,63}$")
_AGENT_NAMES = frozenset({"general", "planner", "coder", "reviewer", "researcher", "tester"})


def env_disabled() -> bool:
    return os.environ.get(ENV_DISABLED, "").strip().lower() not in ("", "0", "false", "no")


def telemetry_enabled(settings: Any) -> bool:
    return bool(settings.telemetry.enabled) and not env_disabled()


def tool_bucket(name: str) -> str:
    """Built-in names as-is; MCP tools as "mcp" (server and tool names may name a project)."""
    if name in BUILTIN_TOOLS:
        return name
    return "mcp" if name.startswith("mcp__") else "other"


def agent_bucket(name: str | None) -> str:
    return name if name in _AGENT_NAMES else "custom"


def model_bucket(name: str | None) -> str:
    """A model *name* only: a path (a local GGUF file) is reduced to its file name."""
    if not name:
        return "unknown"
    base = re.split(r"[\\/]", name)[-1]
    return base if _MODEL_NAME.match(base) else "other"


def _empty() -> dict[str, Any]:
    today = dt.date.today().isoformat()
    return {"version": VERSION, "since": today, "updated": today, "sessions": 0,
            "tools": {}, "toolErrors": {}, "agents": {}, "models": {}, "errors": {},
            "responseTimeMs": {"buckets": list(BUCKETS_MS), "counts": [0] * (len(BUCKETS_MS) + 1)}}


class Telemetry:
    """Counters for one process; merged into the file by :meth:`flush`."""

    def __init__(self, home: Path, enabled: bool) -> None:
        self.path = home / FILENAME
        self.enabled = enabled
        self._delta = _empty()
        self._dirty = False

    @classmethod
    def for_settings(cls, home: Path, settings: Any) -> Telemetry:
        return cls(home, telemetry_enabled(settings))

    def _bump(self, section: str, key: str, n: int = 1) -> None:
        if not self.enabled:
            return
        table = self._delta[section]
        table[key] = table.get(key, 0) + n
        self._dirty = True

    def session_started(self, agent: str | None) -> None:
        if self.enabled:
            self._delta["sessions"] += 1
        self._bump("agents", agent_bucket(agent))

    def tool_called(self, name: str, status: str) -> None:
        self._bump("tools", tool_bucket(name))
        if status in ("error", "denied"):
            self._bump("toolErrors", f"{tool_bucket(name)}:{status}")

    def model_response(self, model: str | None, seconds: float, *, ok: bool = True) -> None:
        if not self.enabled:
            return
        entry = self._delta["models"].setdefault(model_bucket(model),
                                                 {"requests": 0, "errors": 0})
        entry["requests"] += 1
        if not ok:
            entry["errors"] += 1
        index = bisect.bisect_left(BUCKETS_MS, seconds * 1000)
        self._delta["responseTimeMs"]["counts"][index] += 1
        self._dirty = True

    def error(self, kind: str) -> None:
        # kinds are fixed identifiers chosen by Bastion's code, never message text
        self._bump("errors", re.sub(r"[^a-z0-9_.-]", "_", kind.lower())[:40])

    def flush(self) -> None:
        """Merge this process's counts into the file (atomic replace)."""
        if not self.enabled or not self._dirty:
            return
        stored = read_stats(self.path) or _empty()
        merged = _merge(stored, self._delta)
        merged["updated"] = dt.date.today().isoformat()
        atomic_write_json(self.path, merged, sort_keys=True)
        self._delta = _empty()
        self._dirty = False


def _merge(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    out["sessions"] = int(base.get("sessions", 0)) + delta["sessions"]
    for section in ("tools", "toolErrors", "agents", "errors"):
        table = dict(base.get(section) or {})
        for k, v in delta[section].items():
            table[k] = int(table.get(k, 0)) + v
        out[section] = table
    models = {k: dict(v) for k, v in (base.get("models") or {}).items()}
    for k, v in delta["models"].items():
        m = models.setdefault(k, {"requests": 0, "errors": 0})
        m["requests"] += v["requests"]
        m["errors"] += v["errors"]
    out["models"] = models
    hist = base.get("responseTimeMs") or delta["responseTimeMs"]
    counts = list(hist.get("counts") or [])
    if hist.get("buckets") != list(BUCKETS_MS) or len(counts) != len(BUCKETS_MS) + 1:
        counts = [0] * (len(BUCKETS_MS) + 1)  # an older layout: restart the histogram
    out["responseTimeMs"] = {"buckets": list(BUCKETS_MS),
                             "counts": [a + b for a, b in
                                        zip(counts, delta["responseTimeMs"]["counts"],
                                            strict=True)]}
    return out


def read_stats(path: Path) -> dict[str, Any] | None:
    try:
        data = jsonsafe.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # a damaged stats file is replaced, never fatal
    return data if isinstance(data, dict) else None


def percentiles(stats: dict[str, Any], points: tuple[int, ...] = (50, 90, 99)
                ) -> dict[str, str]:
    """Approximate response-time percentiles from the histogram (bucket upper bounds)."""
    hist = stats.get("responseTimeMs") or {}
    counts = hist.get("counts") or []
    total = sum(counts)
    out: dict[str, str] = {}
    if not total:
        return out
    for p in points:
        rank, seen = total * p / 100, 0
        for i, c in enumerate(counts):
            seen += c
            if seen >= rank:
                out[f"p{p}"] = (f"≤{BUCKETS_MS[i]} ms" if i < len(BUCKETS_MS)
                                else f">{BUCKETS_MS[-1]} ms")
                break
    return out


def write_crash_report(home: Path, exc: BaseException, settings: Any) -> Path | None:
    """Keep a redacted crash report locally (``telemetry.crashReports``); never sent.

    The stack (Bastion's own file names, line numbers and source lines) is what makes a
    report useful; the exception *message*, which may quote user data, is kept only when the
    privacy redactor is available to remove secrets from it, and home paths become ``~``.
    """
    if not settings.telemetry.crash_reports or env_disabled():
        return None
    from bastion.audit import default_redactor, identity

    redact = default_redactor()
    stack = redact("".join(traceback.format_tb(exc.__traceback__)))
    message = None if redact is identity else redact(str(exc))
    report = {"version": VERSION, "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "bastionVersion": _version(), "exception": type(exc).__name__,
              "message": _strip_home(message, home) if message is not None else "[not kept]",
              "traceback": _strip_home(stack, home)}
    folder = home / CRASH_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"crash-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S%f')}.json"
    with contextlib.suppress(OSError):
        atomic_write_json(path, report, sort_keys=True)
        return path
    return None


def _strip_home(text: str, home: Path) -> str:
    text = text.replace(str(home), "$BASTION_HOME")
    with contextlib.suppress(RuntimeError):
        text = text.replace(str(Path.home()), "~")
    return text


def _version() -> str:
    from bastion import __version__

    return __version__


def instrument_provider(provider: Any, telemetry: Telemetry) -> None:
    """Time each model request of ``provider`` (counted under its model name).

    Only when telemetry is enabled: disabled means not even a wrapper.
    """
    if not telemetry.enabled:
        return
    import time

    inner = provider.complete

    def complete(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            reply = inner(*args, **kwargs)
        except Exception:
            telemetry.model_response(getattr(provider, "model", None),
                                     time.monotonic() - start, ok=False)
            raise
        telemetry.model_response(getattr(provider, "model", None), time.monotonic() - start)
        return reply

    provider.complete = complete

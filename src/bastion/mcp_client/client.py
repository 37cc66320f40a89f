"""A synchronous face on the async MCP SDK: one event-loop thread per server connection.

Tools run synchronously in the agent loop; the SDK is async (anyio). Each
:class:`McpConnection` owns a daemon thread running an asyncio loop, and a single task on it
holds the transport and the ``ClientSession`` open (anyio scopes must be entered and left by
the same task). Calls are submitted with ``run_coroutine_threadsafe`` and waited on with a
timeout. ``close`` ends the serving task, which stops the server process.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion.errors import BastionError
from bastion.providers import argument_shape_problem

if TYPE_CHECKING:  # the SDK takes ~1 s to import: load it only when a server is used
    import asyncio

    from mcp import ClientSession

CONNECT_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 120.0

TransportFactory = Callable[[], AbstractAsyncContextManager[tuple[Any, Any]]]


class McpError(BastionError):
    """Talking to an MCP server failed."""


@dataclass
class RemoteTool:
    name: str
    description: str
    input_schema: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "inputSchema": self.input_schema}


@dataclass
class CallResult:
    text: str
    is_error: bool
    structured: Any = None


def _content_text(content: list[Any]) -> str:
    parts = []
    for block in content:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource":
            res = block.resource
            parts.append(getattr(res, "text", None) or f"[resource {getattr(res, 'uri', '')}]")
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} content ({getattr(block, 'mime_type', '?')}) omitted]")
        elif kind == "resource_link":
            parts.append(f"[resource link {getattr(block, 'uri', '')}]")
        else:
            parts.append(f"[{kind or type(block).__name__} content omitted]")
    return "\n".join(parts)


@dataclass
class McpConnection:
    """One live connection; ``connect`` → ``tools`` / ``call`` → ``close``."""

    name: str
    transport: TransportFactory
    tools: list[RemoteTool] = field(default_factory=list)
    server_info: str = ""

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: ClientSession | None = None
        self._closing: asyncio.Event | None = None
        self._served: concurrent.futures.Future[None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def connect(self, timeout_s: float = CONNECT_TIMEOUT_S) -> McpConnection:
        import asyncio  # ~25 ms: loaded when a server is really started, not at every run

        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=f"mcp-{self.name}",
                                        daemon=True)
        self._thread.start()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._served = asyncio.run_coroutine_threadsafe(self._serve(ready), loop)
        try:
            ready.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            self.close()
            raise McpError(f"MCP server {self.name!r} did not complete the handshake within "
                           f"{timeout_s:.0f}s") from None
        except BaseException as exc:
            self.close()
            if isinstance(exc, BastionError):
                raise
            raise McpError(f"MCP server {self.name!r} failed to start: "
                           f"{_describe(exc)}") from None
        return self

    async def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        import asyncio

        self._closing = asyncio.Event()
        try:
            from mcp import ClientSession

            async with self.transport() as (read, write), ClientSession(read, write) as session:
                init = await session.initialize()
                info = getattr(init, "server_info", None)
                self.server_info = f"{getattr(info, 'name', '?')} {getattr(info, 'version', '')}"
                self.tools = await self._list_tools(session)
                self._session = session
                ready.set_result(None)
                await self._closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            elif not isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._session = None

    @staticmethod
    async def _list_tools(session: ClientSession) -> list[RemoteTool]:
        out: list[RemoteTool] = []
        cursor: str | None = None
        for _ in range(100):  # pagination, bounded
            params = None
            if cursor:
                import mcp_types

                params = mcp_types.PaginatedRequestParams(cursor=cursor)
            page = await session.list_tools(params=params)
            for t in page.tools:
                out.append(RemoteTool(t.name, t.description or "", dict(t.input_schema or {})))
            cursor = getattr(page, "next_cursor", None)
            if not cursor:
                break
        return out

    def close(self) -> None:
        loop = self._loop
        if loop is None:
            return
        self._loop = None
        if self._closing is not None:
            loop.call_soon_threadsafe(self._closing.set)
        if self._served is not None:
            with contextlib.suppress(BaseException):
                self._served.result(timeout=10)
            if not self._served.done():
                self._served.cancel()
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not loop.is_running():
            loop.close()

    def __enter__(self) -> McpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ calls
    def call(self, tool: str, arguments: dict[str, Any],
             timeout_s: float = CALL_TIMEOUT_S) -> CallResult:
        if self._loop is None or self._session is None:
            raise McpError(f"MCP server {self.name!r} is not connected")
        session = self._session
        import asyncio

        future = asyncio.run_coroutine_threadsafe(session.call_tool(tool, arguments), self._loop)
        try:
            result = future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise McpError(f"{self.name}/{tool}: no answer within {timeout_s:.0f}s") from None
        except Exception as exc:
            raise McpError(f"{self.name}/{tool}: {_describe(exc)}") from None
        content = getattr(result, "content", None) or []
        text = _content_text(content)
        structured = getattr(result, "structured_content", None)
        problem = None if structured is None else argument_shape_problem(structured)
        if problem is not None:  # the server's own data, bounded like the model's arguments
            structured, text = None, text or f"[structured content omitted: {problem}]"
        if not text and structured is not None:
            import json

            text = json.dumps(structured, ensure_ascii=False)
        return CallResult(text, bool(getattr(result, "is_error", False)), structured)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

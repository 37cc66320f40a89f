"""HTTP (streamable HTTP) MCP servers, through the egress gateway.

The SDK (mcp 2.x) speaks ``httpx2``; the gateway (``bastion.net``) is an ``httpx`` transport.
:class:`GatewayBridge` is an ``httpx2`` async transport that hands each request to the
gateway's transport in a worker thread, so every byte to an MCP server passes the same
checks as every other connection (offline mode, allowlist, TLS rules, pins, audit record).
The server URL is passed as the client's endpoint: configuring it is the user's consent to
reach that origin (a project's server only after ``bastion trust``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
import httpx
import httpx2

from bastion.config import Settings


class _BridgedStream(httpx2.AsyncByteStream):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._response.iter_raw()
        while True:
            chunk = await anyio.to_thread.run_sync(next, chunks, None, abandon_on_cancel=True)
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._response.close)


class GatewayBridge(httpx2.AsyncBaseTransport):
    """``httpx2`` requests → the gateway's ``httpx`` transport (sync, in a worker thread)."""

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        outgoing = httpx.Request(request.method, str(request.url),
                                 headers=list(request.headers.multi_items()), content=body,
                                 extensions={k: v for k, v in request.extensions.items()
                                             if k == "timeout"})
        response = await anyio.to_thread.run_sync(self._transport.handle_request, outgoing)
        return httpx2.Response(response.status_code, headers=list(response.headers.multi_items()),
                               stream=_BridgedStream(response), request=request)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._transport.close)


def gateway_client(url: str, settings: Settings) -> httpx2.AsyncClient:
    from bastion.net import build_transport

    transport = build_transport(settings, purpose="mcp", endpoints=[url])
    return httpx2.AsyncClient(transport=GatewayBridge(transport), trust_env=False,
                              timeout=httpx2.Timeout(30.0, read=300.0))


@contextlib.asynccontextmanager
async def http_transport(url: str, settings: Settings) -> AsyncIterator[tuple[Any, Any]]:
    from mcp.client.streamable_http import streamable_http_client

    async with gateway_client(url, settings) as client, \
            streamable_http_client(url, http_client=client) as streams:
        yield streams[0], streams[1]

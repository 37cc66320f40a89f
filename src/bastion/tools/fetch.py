"""``fetch_url``: GET a web page through the egress gateway and return it as readable text.

The model picks the URL. The gate decides it first under the session's policy (``WebFetch``
/ ``Fetch`` rules, modes, approvals): nothing is sent for a denied URL. Then everything about
the request is policed by the gateway client in ``ctx.extras["http_client"]`` (built with
:func:`bastion.net.build_fetch_client`): allowlist, offline mode, address checks, TLS, audit.
Redirects are followed here, one hop at a time, so each hop is a separate request the gateway
checks and records; a hop to another host that the policy would not allow without asking is
refused. The text passes the privacy filter (``ctx.extras["privacy_filter"]``) before the
model sees it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlsplit

from bastion.datamodel import Field
from bastion.net import EgressDenied
from bastion.policy import Request, fallback_for

from .base import Granted, Tool, ToolArgs, ToolContext, ToolResult
from .htmltext import html_to_text

if TYPE_CHECKING:
    import httpx

MAX_FETCH_BYTES = 2_000_000
#: wall clock for one response body: a server that trickles bytes (each within the read
#: timeout) cannot hold the agent longer than this
FETCH_DEADLINE_S = 60.0
MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_TEXTUAL = ("text/", "application/json", "application/xml", "application/xhtml+xml",
            "application/javascript", "application/ld+json", "application/rss+xml",
            "application/atom+xml")

def _same_host(a: str, b: str) -> bool:
    try:
        return urlsplit(a).hostname == urlsplit(b).hostname is not None
    except ValueError:
        return False


class FetchUrlArgs(ToolArgs):
    url: str = Field(description="The http(s) URL to fetch")


class FetchUrl(Tool[FetchUrlArgs]):
    name: ClassVar[str] = "fetch_url"
    description: ClassVar[str] = (
        "Fetch a web page (GET) through Bastion's network policy and return it as text. "
        "Only allowed domains are reachable."
    )
    Args = FetchUrlArgs
    # Not a pure read: the URL itself (path, query) carries whatever the model put in it to
    # a third party, so fetching can leak data. Restricted mode must not offer it.
    read_only: ClassVar[bool] = False

    def requests(self, args: FetchUrlArgs, ctx: ToolContext) -> list[Request]:
        return [Request(args.url.strip(), None, name="url", preview=f"GET {args.url.strip()}",
                        fallback=fallback_for(self.name))]

    def execute(self, args: FetchUrlArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        import httpx  # loaded on the first fetch, not with the tool registry

        client = ctx.extras.get("http_client")
        if callable(client):  # the session builds its gateway client on first use
            client = client()
        if not isinstance(client, httpx.Client):
            return ToolResult("fetch_url is unavailable: no network gateway is configured",
                              is_error=True)
        url = granted.target("url")
        hops: list[str] = []
        try:
            for _ in range(MAX_REDIRECTS + 1):
                if hops and not _same_host(url, hops[0]) and granted.verdict(url) != "allow":
                    return ToolResult(
                        f"fetch_url: redirect from {hops[0]} to {url} refused by the policy "
                        f"({granted.verdict(url)} for that URL)", is_error=True,
                        details={"denied": True, "rule": "policy:redirect", "url": url})
                hops.append(url)
                result = self._get(client, url)
                if isinstance(result, str):
                    url = result
                    continue
                return self._finish(result, ctx, hops)
        except EgressDenied as exc:
            where = f" (redirect hop {len(hops) - 1} from {hops[0]})" if len(hops) > 1 else ""
            return ToolResult(f"fetch_url refused by the network policy{where}: {exc.message}",
                              is_error=True, details={"denied": True, "rule": exc.rule,
                                                      "url": url})
        except httpx.HTTPError as exc:
            return ToolResult(f"fetch_url failed for {url}: {type(exc).__name__}: {exc}",
                              is_error=True, details={"url": url})
        except ValueError as exc:  # malformed URL
            return ToolResult(f"fetch_url: invalid URL {url!r}: {exc}", is_error=True)
        return ToolResult(f"fetch_url: more than {MAX_REDIRECTS} redirects from {hops[0]}",
                          is_error=True, details={"hops": len(hops)})

    @staticmethod
    def _get(client: httpx.Client, url: str) -> str | tuple[httpx.Response, bytes, str]:
        """The next URL for a redirect, else (response, body up to the caps, why it was cut
        short: "" when it was not)."""
        deadline = time.monotonic() + FETCH_DEADLINE_S
        with client.stream("GET", url, follow_redirects=False) as response:
            if response.status_code in _REDIRECTS and "location" in response.headers:
                return urljoin(str(response.url), response.headers["location"])
            body = bytearray()
            truncated = ""
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_FETCH_BYTES:
                    truncated = f"truncated at {MAX_FETCH_BYTES} bytes"
                    del body[MAX_FETCH_BYTES:]
                    break
                if time.monotonic() > deadline:
                    truncated = f"stopped after {FETCH_DEADLINE_S:.0f} s: the server sends slowly"
                    break
            return response, bytes(body), truncated

    @staticmethod
    def _finish(result: tuple[httpx.Response, bytes, str], ctx: ToolContext,
                hops: list[str]) -> ToolResult:
        response, body, truncated = result
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        details: dict[str, Any] = {"url": str(response.url), "status": response.status_code,
                                   "content_type": ctype, "bytes": len(body),
                                   "truncated": bool(truncated), "redirects": len(hops) - 1}
        if ctype and not ctype.startswith(_TEXTUAL):
            return ToolResult(f"{response.url} returned {ctype} content ({len(body)} bytes); "
                              "only text and HTML are shown", is_error=True, details=details)
        text = body.decode(response.encoding or "utf-8", errors="replace")
        if ctype in ("text/html", "application/xhtml+xml") or (
                not ctype and "<html" in text[:1000].lower()):
            text = html_to_text(text, str(response.url))
        header = f"URL: {response.url}\nStatus: {response.status_code}\n"
        if truncated:
            header += f"({truncated})\n"
        content = header + "\n" + text
        # The final URL too: a redirect target chosen by the server may carry a token.
        privacy = ctx.extras.get("privacy_filter")
        if privacy is not None:
            content = privacy.redact(content)
        return ToolResult(content, is_error=response.status_code >= 400, details=details)

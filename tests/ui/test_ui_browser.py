"""The UI in a real browser (Debian's Chromium driven by Playwright).

Verdicts come from outside the browser: the file's bytes on disk, settings.json, the store.
Each page is screenshotted into docs/ui/ (referenced from docs/ui.md).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bastion.config import settings_path
from helpers import require, write_script
from ui.ui_fixtures import base, logged_in, origin, running_ui

CHROMIUM = os.environ.get("BASTION_TEST_CHROMIUM", "/usr/bin/chromium")
#: BASTION_UI_SCREENSHOTS=1 refreshes the screenshots in docs/ui/ (docs/ui.md shows them)
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "ui"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    require(sync_playwright is not None, "playwright (pip install playwright)")
    require(shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists(),
            "chromium (apt-get install chromium; scripts/install.sh --dev)")
    assert sync_playwright is not None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return DOCS_SHOTS if os.environ.get("BASTION_UI_SCREENSHOTS") == "1" else tmp_path / "shots"


def _shot(page: Any, name: str, where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(where / f"{name}.png"), full_page=True)
    assert (where / f"{name}.png").stat().st_size > 1000


def _ok(page: Any) -> None:
    """The action's result page says it worked (an error page fails with its message)."""
    page.locator(".notice, .error").first.wait_for()
    errors = page.locator(".error")
    assert errors.count() == 0, errors.first.inner_text()


def _page(browser: Any, url: str) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(url)
    return page


def test_run_approve_undo_settings_export_delete(browser: Any, workspace: Path,
                                                 tmp_path: Path, shots: Path) -> None:
    target = workspace / "src" / "app.py"
    original = target.read_bytes()
    script = write_script(tmp_path / "edit.jsonl", [
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "src/app.py"}}]},
        {"content": "", "tool_calls": [{"name": "edit_file", "arguments": {
            "path": "src/app.py", "old_text": "hello", "new_text": "hello, browser"}}]},
        {"content": "Changed the greeting."},
    ])
    with running_ui() as server:
        page = _page(browser, server.url)
        assert page.url.endswith("/sessions")  # the token was exchanged and dropped
        assert "token" not in page.url

        # start a replay run in strict mode: the edit is asked in the browser
        page.goto(base(server) + "/run")
        page.fill("textarea[name=task]", "Make the greeting friendlier")
        page.fill("input[name=workspace]", str(workspace))
        page.select_option("select[name=provider]", "replay")
        page.fill("input[name=script]", str(script))
        page.select_option("select[name=mode]", "strict")
        page.click("#start")
        card = page.locator("article.approval").first
        card.wait_for()
        assert "src/app.py" in card.locator(".target").inner_text()
        assert "+print('hello, browser')" in card.locator("pre.diff").inner_text()
        assert target.read_bytes() == original  # nothing happens before the answer
        _shot(page, "run-approval", shots)
        card.locator("button[data-answer=once]").click()
        page.locator("#run-status.done").wait_for()
        assert "Changed the greeting." in page.locator("#answer").inner_text()
        assert target.read_text() == "print('hello, browser')\n"
        _shot(page, "run-done", shots)
        session_id = page.locator("#session-link").inner_text()

        # the session page shows the tool call and its result
        page.click("#session-link")
        assert "edit_file" in page.content()
        _shot(page, "session", shots)

        # undo from the changes page: the file is restored byte for byte
        page.click("nav >> text=Changes")
        assert "+print('hello, browser')" in page.locator("pre.diff").first.inner_text()
        _shot(page, "changes", shots)
        page.locator("button.undo").first.click()
        _ok(page)
        assert target.read_bytes() == original

        # offline mode toggled in the browser lands in settings.json
        page.click("nav >> text=Privacy & security")
        _shot(page, "settings", shots)
        page.locator("#set-offlineMode button").click()
        _ok(page)
        assert json.loads(settings_path().read_text())["offlineMode"] is True
        assert page.locator("#set-offlineMode .state").inner_text() == "on"

        # export (a download), then delete the session
        page.click("nav >> text=Data rights")
        _shot(page, "data", shots)
        with page.expect_download() as info:
            page.click("#export button[type=submit]")
        archive = tmp_path / "export.zip"
        info.value.save_as(str(archive))
        with zipfile.ZipFile(archive) as z:
            assert any(session_id in z.read(n).decode("utf-8", "replace")
                       for n in z.namelist() if n.endswith(".jsonl"))
        page.fill("#delete-session input[name=session]", session_id)
        page.check("#delete-session input[name=confirm]")
        page.click("#delete-session button")
        _ok(page)
        assert server.state.runtime.sessions.list() == []

        page.click("nav >> text=Audit")
        page.click("#verify")
        assert "ok" in page.locator("#verify-result").inner_text().lower()
        _shot(page, "audit", shots)
        # live tail: a change made elsewhere appears on the open audit page (SSE)
        other = logged_in(server)
        other.post("/settings", data={"key": "securityMode", "value": "true"},
                   headers={"origin": origin(server)})
        assert "securityMode" in page.locator("tr.live").first.inner_text()
        page.click("nav >> text=Network")
        _shot(page, "network", shots)
        page.click("nav >> text=Keys")
        _shot(page, "keys", shots)


def test_a_foreign_page_cannot_drive_the_ui(browser: Any, tmp_path: Path) -> None:
    """A page on another origin posts a form at the UI: refused, settings.json unchanged."""
    with running_ui() as server:
        page = _page(browser, server.url)  # the person is logged in in this browser
        before = settings_path().read_bytes() if settings_path().exists() else b""
        evil = tmp_path / "evil.html"
        evil.write_text(
            f'<form id=f method=post action="http://127.0.0.1:{server.port}/settings">'
            '<input name=key value=offlineMode><input name=value value=true></form>')
        page.goto(evil.as_uri())
        with page.expect_navigation():
            page.evaluate("document.getElementById('f').submit()")
        assert "forbidden" in page.content() or "unauthorized" in page.content()
        after = settings_path().read_bytes() if settings_path().exists() else b""
        assert after == before


def test_the_cookie_never_reaches_another_local_port(browser: Any) -> None:
    """Another local user's server on 127.0.0.1 (any port) gets no Bastion cookie."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(20)
    received: list[bytes] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            received.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with running_ui() as server:
        page = _page(browser, server.url)
        assert page.context.cookies()[0]["name"] == "bastion_ui"  # logged in
        other = listener.getsockname()[1]
        page.goto(f"http://127.0.0.1:{other}{server.gate.prefix.rsplit('/', 1)[0]}/")
        thread.join(20)
    listener.close()
    assert received and b"GET " in received[0]
    assert b"bastion_ui" not in received[0]


def test_chat_in_the_browser(browser: Any, workspace: Path, tmp_path: Path,
                             shots: Path) -> None:
    script = write_script(tmp_path / "chat.jsonl", [{"content": "Hello from turn one."},
                                                    {"content": "And turn two."}])
    with running_ui() as server:
        page = _page(browser, server.url)
        page.goto(base(server) + "/run")
        page.fill("textarea[name=task]", "hi")
        page.fill("input[name=workspace]", str(workspace))
        page.select_option("select[name=provider]", "replay")
        page.fill("input[name=script]", str(script))
        page.check("input[name=chat]")
        page.click("#start")
        page.locator("#follow-up").wait_for()
        assert page.locator("#answer").inner_text() == "Hello from turn one."
        page.fill("#follow-up textarea[name=message]", "tell me more")
        page.click("#send")
        page.locator("#follow-up").wait_for()
        assert page.locator("#answer").inner_text() == "And turn two."
        assert "tell me more" in page.locator("#transcript").inner_text()
        _shot(page, "chat", shots)
        page.click("#end-chat")
        page.locator("#run-status.done").wait_for()
        sid = page.locator("#session-link").inner_text()
        users = [m["content"] for m in server.state.runtime.sessions.messages(sid)
                 if m["role"] == "user"]
        assert users == ["hi", "tell me more"]

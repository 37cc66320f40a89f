"""cli/output.py writes plain lines itself: the same text rich would print, never a
terminal escape sequence taken from model-controlled text, colour only on a terminal."""

from __future__ import annotations

import io
import sys

import pytest

from bastion.cli.output import _LazyConsole


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


HOSTILE = "→ read_file \x1b]0;pwned\x07\x1b[2J{\"path\": \"a\"}\rX\x08"


def test_terminal_gets_colour_and_no_escape_sequences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    _LazyConsole(stderr=True).print(HOSTILE, markup=False, style="cyan")
    written = tty.getvalue()
    assert written.startswith("\x1b[36m") and written.endswith("\x1b[0m\n")
    inner = written[len("\x1b[36m"):-len("\x1b[0m\n")]
    assert inner == "→ read_file ]0;pwned[2J{\"path\": \"a\"}X"
    assert "\x1b" not in inner and "\x07" not in inner and "\r" not in inner


def test_pipe_gets_rich_s_text_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stdout", pipe)
    text = "answer: [bold]not markup[/bold] and a bell\x07"
    _LazyConsole(highlight=False, soft_wrap=True).print(text, markup=False)
    ours = pipe.getvalue()
    reference = io.StringIO()
    Console(file=reference, highlight=False, soft_wrap=True, emoji=False).print(
        text, markup=False)
    assert ours == reference.getvalue()


def test_markup_and_unknown_styles_still_go_through_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stdout", pipe)
    console = _LazyConsole(highlight=False, soft_wrap=True)
    console.print("[red]error:[/red] boom", markup=True)
    console.print("x", markup=False, style="underline italic")
    assert pipe.getvalue() == "error: boom\nx\n"

"""Path scrubbing for security mode.

* paths inside the workspace become relative (the workspace root itself becomes ``.``),
* the home directory becomes ``~``,
* the user name (as a whole word) becomes a reversible ``[[USER:n]]`` placeholder,
* every other absolute path becomes a reversible ``[[PATH:n]]`` placeholder.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
from collections.abc import Callable
from pathlib import Path

# User names that are also ordinary words: replacing them would garble text, and they identify
# nobody.
_COMMON_USERS = frozenset(
    {"root", "user", "admin", "guest", "ubuntu", "debian", "runner", "test", "dev", "app", "www",
     "data", "nobody", "home", "default", "docker", "vagrant", "pi", "ec2-user", "node"}
)
# An absolute POSIX path: starts after whitespace, a quote, a bracket, '=' or ':' (or at the start).
# (The pattern starts with the literal "/" and checks the character before it afterwards, so
# the engine jumps from slash to slash instead of trying every position.)
# (``/X+[X/]*`` is the same language as ``/X+(?:/X*)*``, as one C-speed character-class run)
_ABS_PATH = re.compile(r"(/(?<![^\s\"'`(\[{=:,;<>|]/)[\w.@+~%-]+[\w.@+~%/-]*)")
_WIN_HOME = re.compile(r"\b([A-Za-z]:\\(?:Users|Documents and Settings)\\)([^\\\s\"']+)",
                       re.IGNORECASE)


def _current_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None


class PathScrubber:
    """Scrubs paths in text for one session; reversible entries go to ``placeholder``."""

    def __init__(
        self,
        placeholder: Callable[[str, str], str],
        *,
        workspace: Path | None = None,
        home: Path | None = None,
        user: str | None = None,
    ) -> None:
        self._placeholder = placeholder
        self._workspaces: list[str] = []
        if workspace is not None:
            ws = Path(workspace)
            cands = {str(ws.absolute())}
            with contextlib.suppress(OSError):
                cands.add(str(ws.resolve()))
            self._workspaces = sorted((c.rstrip("/") for c in cands if c != "/"), key=len,
                                      reverse=True)
        home_path = home if home is not None else Path(os.path.expanduser("~"))
        self._homes: list[str] = []
        hcands = {str(home_path)}
        with contextlib.suppress(OSError):
            hcands.add(str(Path(home_path).resolve()))
        self._homes = sorted((h.rstrip("/") for h in hcands if h not in ("/", "")), key=len,
                             reverse=True)
        self._user = user if user is not None else _current_user()
        self._user_re: re.Pattern[str] | None = None
        if self._user and len(self._user) >= 3 and self._user.lower() not in _COMMON_USERS:
            name = re.escape(self._user)  # literal first (fast search), then its context
            self._user_re = re.compile(rf"{name}(?<![\w.-]{name})(?![\w-])")

    def _replace_path(self, path: str) -> str:
        for ws in self._workspaces:
            if path == ws:
                return "."
            if path.startswith(ws + "/"):
                rest = path[len(ws) + 1 :]
                return rest or "."
        for home in self._homes:
            if path == home:
                return "~"
            if path.startswith(home + "/"):
                return "~/" + self._scrub_user(path[len(home) + 1 :])
        return self._placeholder(path, "PATH")

    def _scrub_user(self, text: str) -> str:
        if self._user_re is None or not self._user or self._user not in text:
            return text
        return self._user_re.sub(lambda m: self._placeholder(m.group(0), "USER"), text)

    def scrub(self, text: str) -> str:
        if not text:
            return text
        if "/" in text:
            text = _ABS_PATH.sub(lambda m: self._replace_path(m.group(1)), text)
        if ":\\" in text:
            text = _WIN_HOME.sub(
                lambda m: m.group(1) + self._placeholder(m.group(2), "USER"), text
            )
        return self._scrub_user(text)

"""Managed settings: the organisation's layer above the user (``managed-settings.json``).

The file lives in a system location only an administrator can write (``/etc/bastion/`` on
Linux). It has the ``settings.json`` schema plus three managed-only keys:

* ``locked``: dotted keys (or key prefixes) that no lower layer may change at all;
* ``roles``: named settings fragments (``{"contractor": {"permissions": {...}}}``);
* ``assignments``: ``"user:NAME"`` / ``"group:NAME"`` → role name.

A file that is not owned by root, or that others (or a non-root group) may write, is refused:
whoever can write it could loosen every setting, so the run does not start (fail closed).
``BASTION_MANAGED_SETTINGS`` points at another file for tests only, and is refused while the
system file exists.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .loader import SettingsError, parse_settings

ENV = "BASTION_MANAGED_SETTINGS"
#: where administrators put the file, per platform (only the Linux one is read on Linux)
SYSTEM_PATHS = {
    "linux": Path("/etc/bastion/managed-settings.json"),
    "darwin": Path("/Library/Application Support/Bastion/managed-settings.json"),
    "win32": Path(r"C:\ProgramData\Bastion\managed-settings.json"),
}
MANAGED_ONLY = ("locked", "roles", "assignments")


def system_managed_path() -> Path:
    return SYSTEM_PATHS.get(sys.platform, SYSTEM_PATHS["linux"])


@dataclass
class Managed:
    """The parsed managed file: its settings part and the managed-only keys."""

    path: Path
    settings: dict[str, Any]
    locked: list[str] = field(default_factory=list)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    assignments: dict[str, str] = field(default_factory=dict)


def managed_path() -> Path | None:
    """The managed file in effect, or None. Refuses the test variable beside a system file."""
    system = system_managed_path()
    env = os.environ.get(ENV)
    if os.path.lexists(system):
        if env and Path(env) != system:
            raise SettingsError(f"{ENV} is for tests only and is refused while {system} exists",
                                hint=f"unset {ENV}")
        return system
    if env:
        return Path(env)
    return None


def _check_owner(path: Path, st: os.stat_result, what: str) -> None:
    if os.name != "posix":
        return
    if st.st_uid != 0:
        raise SettingsError(f"{path}: managed settings {what} must be owned by root "
                            f"(owner uid {st.st_uid}); refusing to start",
                            hint=f"chown root:root {path}")
    if st.st_mode & stat.S_IWOTH or (st.st_mode & stat.S_IWGRP and st.st_gid != 0):
        raise SettingsError(f"{path}: managed settings {what} is writable by others "
                            f"(mode {stat.filemode(st.st_mode)}); refusing to start",
                            hint=f"chmod go-w {path}")


def _read_checked(path: Path) -> dict[str, Any]:
    """Open once, then check the opened file (no swap between check and read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SettingsError(f"{path}: managed settings file does not exist "
                            f"({ENV} must name an existing file)") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read managed settings ({exc.strerror}); "
                            "refusing to start") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise SettingsError(f"{path}: managed settings is not a regular file")
        _check_owner(path, st, "file")
        _check_owner(path.parent, os.stat(path.parent), "directory")
        raw = fh.read()
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"{path}: managed settings are not valid JSON ({exc})") from None
    except RecursionError:
        raise SettingsError(f"{path}: managed settings are nested too deeply") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a JSON object at the top level")
    return data


def _str_list(value: Any, path: Path, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{path}: key '{key}': expected a list of strings")
    return list(value)


def parse_managed(data: dict[str, Any], path: Path, known_keys: set[str]) -> Managed:
    """Validate a managed file's content; every error names the file and key."""
    body = {k: v for k, v in data.items() if k not in MANAGED_ONLY}
    parse_settings(body, path)
    locked = _str_list(data.get("locked", []), path, "locked")
    for key in locked:
        if key not in known_keys:
            raise SettingsError(f"{path}: key 'locked': {key!r} is not a setting")
    roles_raw = data.get("roles", {})
    if not isinstance(roles_raw, dict):
        raise SettingsError(f"{path}: key 'roles': expected an object of name → settings")
    roles: dict[str, dict[str, Any]] = {}
    for name, fragment in roles_raw.items():
        if not isinstance(fragment, dict) or any(k in fragment for k in MANAGED_ONLY):
            raise SettingsError(f"{path}: key 'roles.{name}': expected settings (no "
                                "locked/roles/assignments inside a role)")
        parse_settings(fragment, f"{path} (role {name})")
        roles[name] = fragment
    assigns = data.get("assignments", {})
    if not isinstance(assigns, dict):
        raise SettingsError(f"{path}: key 'assignments': expected an object")
    for who, role in assigns.items():
        if not who.startswith(("user:", "group:")) or len(who.split(":", 1)[1]) == 0:
            raise SettingsError(f"{path}: key 'assignments': {who!r} must be 'user:NAME' "
                                "or 'group:NAME'")
        if role not in roles:
            raise SettingsError(f"{path}: key 'assignments.{who}': role {role!r} is not "
                                "defined under 'roles'")
    return Managed(path, body, locked, roles, dict(assigns))


def load_managed(known_keys: Callable[[], set[str]]) -> Managed | None:
    path = managed_path()
    if path is None:
        return None
    return parse_managed(_read_checked(path), path, known_keys())


def current_identity() -> tuple[str, list[str]]:
    """This process's user name and group names (for role assignments)."""
    uid = os.geteuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    names = []
    for gid in sorted({os.getegid(), *os.getgroups()}):
        try:
            names.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            names.append(str(gid))
    return user, names


def effective_roles(managed: Managed, user: str, groups: list[str]) -> list[str]:
    """Roles that apply: the user's own assignment wins; else every matching group's role
    (all of them apply, and each can only tighten)."""
    own = managed.assignments.get(f"user:{user}")
    if own is not None:
        return [own]
    found: list[str] = []
    for group in groups:
        role = managed.assignments.get(f"group:{group}")
        if role is not None and role not in found:
            found.append(role)
    return found

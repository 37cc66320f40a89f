"""Loading, validating and saving ``settings.json`` with errors that name file, key and type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bastion import safefs
from bastion.datamodel import ValidationError
from bastion.errors import BastionError
from bastion.fsutil import atomic_write_json
from bastion.home import bastion_home

from .models import Settings


class SettingsError(BastionError):
    """A settings file is unreadable, not JSON, or does not match the schema."""


def settings_path() -> Path:
    return bastion_home() / "settings.json"


def _describe(err: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"key '{key}': unknown setting"
    expected = err.get("msg", kind)
    return f"key '{key}': {expected} (got {json.dumps(err.get('input'), default=str)[:80]})"


def parse_settings(data: Any, source: Path | str) -> Settings:
    """Validate already-decoded JSON; ``source`` is named in every error."""
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: expected a JSON object at the top level")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise SettingsError(f"{source}: {problems}") from None


#: a settings file is a few kilobytes; anything this big is a mistake (and slow to validate)
MAX_SETTINGS_BYTES = 1024 * 1024


def read_settings_json(path: Path) -> dict[str, Any]:
    """The raw JSON object in ``path`` ({} when the file does not exist)."""
    try:
        with safefs.open_regular(path, follow=True) as fh:  # a FIFO is refused, not awaited
            raw = fh.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read settings ({exc.strerror})") from None
    if len(raw) > MAX_SETTINGS_BYTES:
        raise SettingsError(f"{path}: larger than {MAX_SETTINGS_BYTES // 1024} KiB; "
                            "a settings file this big is refused")
    data = _decode_json(raw, path)
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a JSON object at the top level")
    return data


def _decode_json(raw: bytes, path: Path) -> Any:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SettingsError(f"{path}: the file is UTF-16; save it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is tolerated
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise SettingsError(f"{path}: nested too deeply to be a settings file") from None


def load_settings(path: Path | None = None) -> Settings:
    """The effective settings: managed → role → the user's file (defaults where all are
    silent); with ``path``, that one file alone."""
    if path is not None:
        return parse_settings(read_settings_json(path), path)
    from .effective import layered_settings

    return layered_settings(settings_path())


def dump_settings(settings: Settings) -> dict[str, Any]:
    return settings.model_dump(mode="json", by_alias=True, exclude={"schema_"})


def write_settings_json(path: Path, data: dict[str, Any]) -> None:
    """Validate, then replace ``path`` atomically so a crash never leaves half a file.
    The user's file may not loosen managed settings (raises ``ManagedRefusal``)."""
    parse_settings(data, path)
    if path == settings_path():
        from .effective import check_user_write

        check_user_write(path, data)
    atomic_write_json(path, data)


_MISSING = object()


def get_key(data: dict[str, Any], dotted: str) -> Any:
    """Look up ``a.b.c`` in a settings dict (camelCase keys); KeyError when absent."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def set_key(data: dict[str, Any], dotted: str, value: Any) -> Any:
    """Set ``a.b.c`` in place, creating objects along the way; returns the old value or None."""
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    old = node.get(parts[-1], None)
    node[parts[-1]] = value
    return old


def effective_settings_dict(path: Path | None = None) -> dict[str, Any]:
    """The full effective settings as a camelCase dict."""
    return dump_settings(load_settings(path))

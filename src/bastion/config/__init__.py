"""Settings: the ``settings.json`` schema, loading with precise errors, and dotted-key access."""

from .loader import (
    SettingsError,
    dump_settings,
    effective_settings_dict,
    get_key,
    load_settings,
    parse_settings,
    read_settings_json,
    set_key,
    settings_path,
    write_settings_json,
)
from .models import FolderGrant, McpServerSettings, Settings

__all__ = [
    "FolderGrant",
    "McpServerSettings",
    "Settings",
    "SettingsError",
    "dump_settings",
    "effective_settings_dict",
    "get_key",
    "load_settings",
    "parse_settings",
    "read_settings_json",
    "set_key",
    "settings_path",
    "write_settings_json",
]

"""Settings: the ``settings.json`` schema, loading with precise errors, dotted-key access, and
the layers (managed → role → user → project → command line) with the origin of every value."""

from .effective import (
    ManagedRefusal,
    command_line_settings,
    constrain_project,
    describe_layers,
    enforce_managed,
    flag_refusals,
    is_managed,
    layered_settings,
    layers_of,
    origins_table,
    settings_files,
    validate_managed,
    with_layer,
)
from .layers import CLI, MANAGED, PROJECT, USER, Layers, Refusal
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
from .managed import ENV as MANAGED_ENV
from .managed import system_managed_path
from .models import FolderGrant, McpServerSettings, Settings, parse_resolver

__all__ = [
    "CLI",
    "MANAGED",
    "MANAGED_ENV",
    "PROJECT",
    "USER",
    "FolderGrant",
    "Layers",
    "ManagedRefusal",
    "McpServerSettings",
    "Refusal",
    "Settings",
    "SettingsError",
    "command_line_settings",
    "constrain_project",
    "describe_layers",
    "dump_settings",
    "effective_settings_dict",
    "enforce_managed",
    "flag_refusals",
    "get_key",
    "is_managed",
    "layered_settings",
    "layers_of",
    "load_settings",
    "origins_table",
    "parse_resolver",
    "parse_settings",
    "read_settings_json",
    "set_key",
    "settings_files",
    "settings_path",
    "system_managed_path",
    "validate_managed",
    "with_layer",
    "write_settings_json",
]

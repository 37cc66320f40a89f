"""Data rights: export, deletion, retention, key rotation and local-only telemetry.

Public API::

    export_data(rt, ExportOptions(out, session=None, include_backups=False, passphrase=None),
                progress=None) -> ExportResult
    delete_session(rt, session_id) -> SessionDeletion
    delete_project(home, project_dir) -> ProjectDeletion
    delete_all(home, settings=None) -> AllDeletion        # needs no unlocked vault
    apply_retention(rt) -> list[str]                      # called by Runtime.open()
    rotate_master_key(home, vault, progress=None) -> RotationReport
    Telemetry.for_settings(home, settings)                # .tool_called(), .model_response()…
    write_crash_report(home, exc, settings) -> Path | None

Every name loads its module on first use: a run needs telemetry, not export or key rotation.
"""

from typing import TYPE_CHECKING

from bastion.lazyattrs import lazy_getattr

if TYPE_CHECKING:
    from .delete import (
        AllDeletion,
        DeleteError,
        ProjectDeletion,
        SessionDeletion,
        delete_all,
        delete_project,
        delete_session,
        deletion_plan,
    )
    from .export import (
        ExportError,
        ExportOptions,
        ExportResult,
        check_target,
        export_data,
    )
    from .rekey import (
        RotationReport,
        rotate_master_key,
    )
    from .retention import (
        apply_retention,
        expired_sessions,
    )
    from .telemetry import (
        FILENAME as TELEMETRY_FILENAME,
    )
    from .telemetry import (
        Telemetry,
        env_disabled,
        instrument_provider,
        percentiles,
        read_stats,
        telemetry_enabled,
        write_crash_report,
    )

_LAZY = {
    **dict.fromkeys(("AllDeletion", "DeleteError", "ProjectDeletion", "SessionDeletion",
                     "delete_all", "delete_project", "delete_session", "deletion_plan"),
                    ".delete"),
    **dict.fromkeys(("ExportError", "ExportOptions", "ExportResult", "check_target",
                     "export_data"), ".export"),
    **dict.fromkeys(("RotationReport", "rotate_master_key"), ".rekey"),
    **dict.fromkeys(("apply_retention", "expired_sessions"), ".retention"),
    **dict.fromkeys(("TELEMETRY_FILENAME", "Telemetry", "env_disabled", "instrument_provider",
                     "percentiles", "read_stats", "telemetry_enabled", "write_crash_report"),
                    ".telemetry"),
}
#: names that differ from the module's own
_RENAMED = {"TELEMETRY_FILENAME": "FILENAME"}


__getattr__ = lazy_getattr(__name__, globals(), _LAZY, _RENAMED)


__all__ = [
    "TELEMETRY_FILENAME",
    "AllDeletion",
    "DeleteError",
    "ExportError",
    "ExportOptions",
    "ExportResult",
    "ProjectDeletion",
    "RotationReport",
    "SessionDeletion",
    "Telemetry",
    "apply_retention",
    "check_target",
    "delete_all",
    "delete_project",
    "delete_session",
    "deletion_plan",
    "env_disabled",
    "expired_sessions",
    "export_data",
    "instrument_provider",
    "percentiles",
    "read_stats",
    "rotate_master_key",
    "telemetry_enabled",
    "write_crash_report",
]

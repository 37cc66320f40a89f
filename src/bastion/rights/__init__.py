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
"""

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
from .export import ExportError, ExportOptions, ExportResult, check_target, export_data
from .rekey import RotationReport, rotate_master_key
from .retention import apply_retention, expired_sessions
from .telemetry import (
    Telemetry,
    env_disabled,
    percentiles,
    read_stats,
    telemetry_enabled,
    write_crash_report,
)

__all__ = [
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
    "percentiles",
    "read_stats",
    "rotate_master_key",
    "telemetry_enabled",
    "write_crash_report",
]

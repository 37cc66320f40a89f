"""The right to deletion: one session, one project's ``.bastion/``, or everything.

Deleting everything is *crypto-shredding* plus removal: every file under ``BASTION_HOME`` is
removed and the master key (keychain entry or key slot) is destroyed last, so anything a
filesystem might retain (SSD remapping, snapshots) is ciphertext under a key that no longer
exists anywhere.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion import audit
from bastion.errors import BastionError
from bastion.fsutil import empty_tree, remove_tree
from bastion.vault import KEYSLOT_FILENAME, keychain

if TYPE_CHECKING:
    from .opened import Opened as Runtime

PROJECT_DIR = ".bastion"


class DeleteError(BastionError):
    """A deletion cannot be done (nothing was deleted unless the message says so)."""


@dataclass
class SessionDeletion:
    session_id: str
    blobs_deleted: int = 0
    audit_blanked: int = 0


def _has_table(rt: Runtime, name: str) -> bool:
    return bool(rt.db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (name,)))


def _exclusive_blobs(rt: Runtime, session_id: str) -> list[str]:
    """Digests referenced by this session's journal operations and by no other operation."""
    if not _has_table(rt, "journal_changes"):
        return []
    rows = rt.db.query(
        "WITH mine AS (SELECT c.before_hash AS h FROM journal_changes c JOIN journal_ops o "
        "ON o.id = c.op_id WHERE o.session_id = ? UNION SELECT c.after_hash FROM journal_changes "
        "c JOIN journal_ops o ON o.id = c.op_id WHERE o.session_id = ?), "
        "theirs AS (SELECT c.before_hash AS h FROM journal_changes c JOIN journal_ops o "
        "ON o.id = c.op_id WHERE o.session_id IS NOT ? UNION SELECT c.after_hash FROM "
        "journal_changes c JOIN journal_ops o ON o.id = c.op_id WHERE o.session_id IS NOT ?) "
        "SELECT h FROM mine WHERE h IS NOT NULL AND h NOT IN "
        "(SELECT h FROM theirs WHERE h IS NOT NULL)",
        (session_id, session_id, session_id, session_id))
    return [r[0] for r in rows]


def delete_session(rt: Runtime, session_id: str, *, reason: str = "user") -> SessionDeletion:
    """Delete a session's rows, the journal blobs only it references, and its audit payloads.

    The audit records themselves stay (their MACs cover payload hashes), so the chain still
    verifies; only what they said is gone.
    """
    info = rt.sessions.resolve(session_id)
    result = SessionDeletion(info.id)
    digests = _exclusive_blobs(rt, info.id)
    with rt.db.transaction():
        if _has_table(rt, "journal_ops"):
            # journal_changes cascade; the operations of a deleted session cannot be undone
            rt.db.execute("DELETE FROM journal_ops WHERE session_id = ?", (info.id,))
        rt.sessions.delete(info.id)
    if digests:
        from bastion.journal import open_journal

        blobs = open_journal(rt).blobs
        for digest in digests:
            path = blobs.path_for(digest)
            if path.is_file():
                path.unlink()
                result.blobs_deleted += 1
    if rt.settings.audit.enabled:
        result.audit_blanked = rt.audit.blank_session(info.id)
    audit.record("user", "delete-session", {"session_id": info.id, "reason": reason,
                                            "blobs_deleted": result.blobs_deleted,
                                            "audit_payloads_blanked": result.audit_blanked})
    return result


@dataclass
class ProjectDeletion:
    project: Path
    removed: bool
    untrusted: bool


def delete_project(home: Path, project: Path) -> ProjectDeletion:
    """Remove ``<project>/.bastion/`` and any trust record of the project.

    A ``.bastion`` that is a symlink is unlinked, never followed: deleting "project data"
    must not reach into whatever the link points at.
    """
    root = project.expanduser().resolve()
    if not root.is_dir():
        raise DeleteError(f"{project} is not a directory")
    target = root / PROJECT_DIR
    removed = False
    if target.is_symlink() or target.is_file():
        target.unlink()
        removed = True
    elif target.is_dir():
        remove_tree(target)  # a cloned project's folder: any depth
        removed = True
    from bastion.policy import TrustStore

    untrusted = TrustStore(home).untrust(root)
    from bastion.mcp_client import state_dir

    scope = state_dir(home, "-", root).parent  # the project's MCP servers' saved state
    state_removed = scope.is_dir() and not scope.is_symlink()
    if state_removed:
        remove_tree(scope)
    audit.record("user", "delete-project", {"project_data_removed": removed,
                                            "trust_removed": untrusted,
                                            "mcp_state_removed": state_removed})
    return ProjectDeletion(root, removed, untrusted)


@dataclass
class AllDeletion:
    home: Path
    files_removed: int = 0
    keychain_entries_removed: int = 0
    extra_paths: list[str] = field(default_factory=list)
    #: entries in the data directory Bastion did not create: left in place
    left: list[str] = field(default_factory=list)


def delete_all(home: Path, settings: Any | None = None) -> AllDeletion:
    """Remove everything Bastion stored: the data directory, an external audit ``logPath``
    file, and the keychain entry — the master key last. Needs no unlocked vault, so it works
    even when the passphrase is forgotten."""
    result = AllDeletion(home)
    log_path = getattr(getattr(settings, "audit", None), "log_path", None)
    if log_path:
        p = Path(log_path).expanduser()
        if p.is_file() and not str(p.resolve()).startswith(str(home) + os.sep):
            p.unlink()
            result.files_removed += 1
            result.extra_paths.append(str(p))
    # everything except the key slot; the key goes last so an interruption half-way leaves
    # what remains still openable (and `delete --all` can simply be run again)
    slot_file = home / KEYSLOT_FILENAME
    for entry in sorted(home.iterdir()) if home.is_dir() else []:
        if entry == slot_file:
            continue
        if not bastion_made(entry.name):
            result.left.append(str(entry))  # not Bastion's: never deleted
            continue
        if entry.is_dir() and not entry.is_symlink():
            result.files_removed += empty_tree(entry)
            entry.rmdir()
        else:
            entry.unlink()
        result.files_removed += 1
    # the audit checkpoint's copies outside the home (keychain, beside logPath), rotated parts
    from bastion.audit import forget_external

    result.extra_paths += forget_external(home, Path(log_path).expanduser() if log_path else None)
    backend, _reason = keychain.secure_backend()
    if backend is not None and keychain.load_master_key(backend, home) is not None:
        keychain.delete_master_key(backend, home)
        result.keychain_entries_removed += 1
    if slot_file.exists():
        slot_file.unlink()
        result.files_removed += 1
    with contextlib.suppress(FileNotFoundError, OSError):
        home.rmdir()
    return result


#: what Bastion itself creates in its data directory (top-level names); anything else found
#: there was put there by someone else and is left alone by ``delete --all``
BASTION_NAMES = frozenset({
    "settings.json", "bastion.db", "bastion.db-wal", "bastion.db-shm", "bastion.db-journal",
    "keyslot.json", "rotation.json", "journal", "audit-checkpoint.json", "telemetry.json",
    "crash-reports", "trust.json", "mcp-tools.json", "mcp-approvals.json", "mcp-state",
    "agents", "taskforces", "lib", "init.lock", "runtime.lock", "owners", "locks", "sync",
    "ui",
})
def bastion_made(name: str) -> bool:
    """Whether a top-level entry of the data directory is one Bastion creates (its own
    names, and temporary or staged copies named after them: ``.settings.json.x1.tmp``,
    ``bastion.db.rotating``)."""
    base = name.lstrip(".")
    return base in BASTION_NAMES or any(base.startswith(n + ".") for n in BASTION_NAMES)


def deletion_plan(home: Path) -> tuple[list[Path], list[Path]]:
    """(Bastion's entries that ``delete --all`` removes, other entries it leaves)."""
    if not home.is_dir():
        return [], []
    entries = sorted(home.iterdir())
    return ([e for e in entries if bastion_made(e.name)],
            [e for e in entries if not bastion_made(e.name)])

"""Where Bastion keeps its data: ``BASTION_HOME`` or the platform's user data dir."""

from __future__ import annotations

import os
from pathlib import Path

from bastion.errors import BastionError


def bastion_home() -> Path:
    """The application data directory, created owner-only; a clear error when it is unusable."""
    env = os.environ.get("BASTION_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        import platformdirs  # ~5 ms: only when BASTION_HOME does not say

        home = Path(platformdirs.user_data_dir("bastion"))
    source = "BASTION_HOME" if env else "the data directory"
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        raise BastionError(f"{source} {home} exists but is not a directory",
                           hint="point BASTION_HOME at a folder") from None
    except OSError as exc:
        raise BastionError(f"{source} {home} cannot be created: {exc.strerror}") from None
    if not home.is_dir():
        raise BastionError(f"{source} {home} is not a directory",
                           hint="point BASTION_HOME at a folder")
    if not os.access(home, os.W_OK | os.X_OK):
        raise BastionError(f"{source} {home} is not writable",
                           hint="fix its permissions or point BASTION_HOME elsewhere")
    resolved = home.resolve()
    _owner_only(resolved)
    return resolved


def _owner_only(home: Path) -> None:
    """Keep the data directory 0700 (a group/world-readable folder exposes file names)."""
    try:
        st = home.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(home, st.st_mode & 0o700 | 0o700)
    except OSError:
        pass


def check_workspace(path: Path) -> Path:
    """The workspace folder, resolved; a clear error when it is not a directory."""
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise BastionError(f"workspace {path} is not a directory")
    return resolved

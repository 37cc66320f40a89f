"""Where Bastion keeps its data: ``BASTION_HOME`` or the platform's user data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def bastion_home() -> Path:
    """The application data directory, created with owner-only permissions."""
    env = os.environ.get("BASTION_HOME")
    home = Path(env).expanduser() if env else Path(platformdirs.user_data_dir("bastion"))
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home.resolve()

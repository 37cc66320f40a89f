"""What one ``bastion ui`` process holds: its runtime, its gate, its runs, one lock.

Page handlers share the server's runtime (one SQLCipher connection), so they take
:attr:`UiState.lock`; a run gets its own runtime (its own connection) from
:meth:`UiState.run_runtime` and writes concurrently like a second ``bastion`` process would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion import audit as audit_api
from bastion.config import load_settings
from bastion.runtime import Runtime

from .runs import RunManager
from .security import Gate


@dataclass
class UiState:
    rt: Runtime | None
    gate: Gate
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: set by the server: stops it (after "delete all data", nothing is left to serve)
    shutdown: Callable[[], None] = lambda: None
    runs: RunManager = field(init=False)

    def __post_init__(self) -> None:
        self.runs = RunManager(self.run_runtime, self._reinstall_audit)

    @property
    def runtime(self) -> Runtime:
        if self.rt is None:
            from bastion.errors import BastionError

            raise BastionError("all Bastion data was deleted; restart `bastion ui`")
        return self.rt

    def run_runtime(self) -> Runtime:
        """A runtime for one run: the same unlocked vault, fresh settings, its own connection."""
        rt = self.runtime
        return Runtime.attach(rt.home, load_settings(), rt.vault)

    def _reinstall_audit(self) -> None:
        rt = self.rt
        if rt is not None:  # a finished run uninstalled its own log: ``audit.record`` is ours again
            audit_api.install(lambda: rt.audit, owner=rt)

    def close(self) -> None:
        self.runs.stop()
        with self.lock:
            if self.rt is not None:
                self.rt.close()
                self.rt = None

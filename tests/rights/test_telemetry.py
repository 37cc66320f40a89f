"""Telemetry: local-only counts, content-free, and nothing at all when disabled."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from bastion.rights.telemetry import FILENAME, Telemetry, model_bucket, tool_bucket
from helpers import run_bastion
from rights.rights_data import make_session

SECRET_PATH = "project-nebula-secret"


def _session(workspace: Path, tmp_path: Path) -> None:
    (workspace / f"{SECRET_PATH}.txt").write_text("classified contents")
    make_session(workspace, tmp_path, "t", [
        {"content": "", "tool_calls": [{"name": "read_file",
                                        "arguments": {"path": f"{SECRET_PATH}.txt"}},
                                       {"name": "mcp__nebula__query", "arguments": {}}]},
        {"content": "done"},
    ])


def test_counts_are_local_and_content_free(workspace: Path, tmp_path: Path, bastion_home: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASTION_TELEMETRY_DISABLED", "0")

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("telemetry must never open a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    _session(workspace, tmp_path)
    raw = (bastion_home / FILENAME).read_text()
    stats = json.loads(raw)
    assert stats["tools"] == {"read_file": 1, "mcp": 1}
    assert stats["sessions"] == 1 and stats["agents"] == {"general": 1}
    assert sum(m["requests"] for m in stats["models"].values()) == 2
    assert sum(stats["responseTimeMs"]["counts"]) == 2
    for forbidden in (SECRET_PATH, "classified", "nebula", str(workspace), "task t"):
        assert forbidden not in raw
    # `telemetry show` prints exactly the stored file
    r = run_bastion("telemetry", "show", env={"BASTION_TELEMETRY_DISABLED": "0"})
    assert r.returncode == 0 and r.stdout == raw


def test_disabled_records_nothing(workspace: Path, tmp_path: Path, bastion_home: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # by the environment variable (set by the test harness)
    _session(workspace, tmp_path)
    assert not (bastion_home / FILENAME).exists()
    # by settings: an existing file is not touched (same bytes, same mtime)
    monkeypatch.setenv("BASTION_TELEMETRY_DISABLED", "0")
    (bastion_home / FILENAME).write_text('{"version": 1}\n')
    before = (bastion_home / FILENAME).stat()
    (bastion_home / "settings.json").write_text(json.dumps({"telemetry": {"enabled": False}}))
    _session(workspace, tmp_path)
    after = (bastion_home / FILENAME).stat()
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == \
        (before.st_mtime_ns, before.st_size, before.st_ino)
    assert (bastion_home / FILENAME).read_text() == '{"version": 1}\n'


def test_enable_disable_flip_the_setting(bastion_home: Path) -> None:
    r = run_bastion("telemetry", "disable")
    assert r.returncode == 0, r.stderr
    assert json.loads((bastion_home / "settings.json").read_text())["telemetry"]["enabled"] is False


def test_names_are_bucketed() -> None:
    assert tool_bucket("mcp__acme__secret_tool") == "mcp"
    assert tool_bucket("my_custom") == "other"
    assert model_bucket("/home/alice/projects/nebula/model.gguf") == "model.gguf"
    assert model_bucket("gpt-4o-mini") == "gpt-4o-mini"
    assert model_bucket("a name with spaces") == "other"
    t = Telemetry(Path("/nonexistent"), enabled=False)
    t.tool_called("read_file", "ok")
    t.flush()  # disabled: no file access at all (the directory does not even exist)

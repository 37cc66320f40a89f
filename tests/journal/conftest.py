"""Fixtures for the policy and tool tests: a journal on a throwaway encrypted database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.journal import Journal
from bastion.policy import Policy
from bastion.store import Database
from bastion.tools import ToolContext


@pytest.fixture
def journal(bastion_home: Path) -> Iterator[Journal]:
    db = Database(bastion_home / "test.db", os.urandom(32))
    yield Journal(db, bastion_home, os.urandom(32))
    db.close()


@pytest.fixture
def ctx(workspace: Path, journal: Journal) -> ToolContext:
    return ToolContext(workspace=workspace, policy=Policy(workspace), session_id="s1",
                       extras={"journal": journal})

"""Path rules hold for commands too: a command reads and writes through no gate, so the
sandbox view compiles ``Read(...)`` denials as hidden and ``Write(...)``-family denials as
read-only (found by a hostile ``cat payroll.csv`` that printed a file ``Read(...)`` denied)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.policy import Rule

from .conftest import Box

pytestmark = pytest.mark.sandbox

SECRET = "salary-canary-8d1f3a"


def _deny(box: Box, *rules: str) -> None:
    for text in rules:
        box.policy.rules.append(Rule.parse(text, "deny", "test", box.ws, box.home))


def test_read_rule_hides_the_file_from_commands(box: Box) -> None:
    (box.ws / "payroll.csv").write_text(SECRET + "\n")
    (box.ws / "reports").mkdir()
    (box.ws / "reports" / "q3.csv").write_text(SECRET + "\n")
    (box.ws / "notes.txt").write_text("visible\n")
    _deny(box, "Read(payroll.csv)", "Read(reports/**)")
    out = box.output("cat payroll.csv reports/q3.csv notes.txt; "
                     "base64 payroll.csv; grep -r salary . ; tar cf - . | strings")
    assert SECRET not in out
    assert "visible" in out  # the control: the rest of the workspace is readable


def test_write_family_rules_make_the_file_read_only_for_commands(box: Box) -> None:
    for name in ("locked.txt", "keep.txt", "stay.txt"):
        (box.ws / name).write_text("original\n")
    _deny(box, "Write(locked.txt)", "Delete(keep.txt)", "Move(stay.txt)")
    box.output("echo changed > locked.txt; echo more >> locked.txt; rm -f keep.txt; "
               "mv stay.txt moved.txt; echo ok > free.txt")
    for name in ("locked.txt", "keep.txt", "stay.txt"):
        assert (box.ws / name).read_text() == "original\n"
    assert (box.ws / "free.txt").read_text() == "ok\n"  # the control


def test_policy_and_view_agree_on_rule_denials(box: Box) -> None:
    (box.ws / "payroll.csv").write_text(SECRET)
    (box.ws / "locked.txt").write_text("x")
    _deny(box, "Read(*.csv)", "Edit(locked.txt)")
    view = box.policy.sandbox_view()
    assert Path(box.ws / "payroll.csv") in view.hidden_paths
    assert Path(box.ws / "locked.txt") in view.protected_paths
    assert box.policy.decide("read_file", box.ws / "payroll.csv").verdict == "deny"

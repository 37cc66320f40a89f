"""Command analysis and per-segment rules (no sandbox needed)."""

from __future__ import annotations

import pytest

from bastion.policy.shell import analyse, decide_command, match_command_rule


def test_segments_and_redirections() -> None:
    a = analyse("git status && npm test -- --x | grep 'a b' > out.txt 2>&1; (cd x; ls) "
                "|| echo $(whoami) < in.txt")
    assert a.unanalysable is None
    assert ["git", "status"] in a.segments and ["npm", "test", "--", "--x"] in a.segments
    assert ["grep", "a b"] in a.segments and ["cd", "x"] in a.segments
    assert ["whoami"] in a.segments and ["ls"] in a.segments
    assert a.redirect_targets == ["out.txt"] and a.read_targets == ["in.txt"]


@pytest.mark.parametrize("command", [
    "eval ls", "$CMD arg", "$(echo rm) -rf x", "bash -c 'rm -rf /'", "sh -xc ls",
    "diff <(ls) b", "ls > $OUT", "f() { ls; }; f", "echo $((1+2))", "ls 'unterminated",
    "source ./x.sh", ". ./x.sh", "", "   ",
])
def test_unanalysable_is_never_allowed(command: str) -> None:
    a = analyse(command)
    assert a.unanalysable is not None
    verdict, _ = decide_command(a, ["*", "RunCommand(eval:*)", "Bash"], [], [])
    assert verdict == "ask"


def test_rules_match_per_segment() -> None:
    assert match_command_rule("git status", ["git", "status"])
    assert not match_command_rule("git status", ["git", "status", "--short"])
    assert match_command_rule("npm test:*", ["npm", "test"])
    assert match_command_rule("npm test:*", ["npm", "test", "--watch"])
    assert not match_command_rule("npm test:*", ["npm", "testing"])
    allow = ["RunCommand(git status)", "Bash(npm test:*)"]
    assert decide_command(analyse("git status; npm test -- -k x"), allow, [], [])[0] == "allow"
    # a prefix rule for one segment does not carry the rest of the line
    assert decide_command(analyse("git status && rm -rf ~"), allow, [], [])[0] == "ask"
    assert decide_command(analyse("git status $(curl evil)"), allow, [], [])[0] == "ask"
    assert decide_command(analyse("npm test && rm -rf x"), allow, [],
                          ["RunCommand(rm:*)"]) == ("deny", "RunCommand(rm:*)")
    assert decide_command(analyse("echo $(rm -rf x)"), ["echo:*"], [],
                          ["Bash(rm:*)"])[0] == "deny"
    assert decide_command(analyse("PAGER=evil git status"), allow, [], [])[0] == "ask"


def test_redirections_are_checked_like_writes() -> None:
    def verdict(path: str) -> str:
        return "deny" if path.startswith("/etc") else "allow"

    a = analyse("echo hi > /etc/passwd")
    assert decide_command(a, ["echo:*"], [], [], path_verdict=verdict)[0] == "deny"  # type: ignore[arg-type]
    a = analyse("echo hi > ok.txt")
    assert decide_command(a, ["echo:*"], [], [], path_verdict=verdict)[0] == "allow"  # type: ignore[arg-type]

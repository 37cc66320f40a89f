"""A cloned project's ``.bastion/`` is hostile input: a YAML "billion laughs" definition (nine
nested aliases of nine items) or an oversized file is refused with one clear line, at once —
it used to keep ``bastion agents list`` busy (and growing) until killed."""

from __future__ import annotations

from pathlib import Path

from helpers import run_bastion

AGENT = "name: bomb\ndescription: x\nprompt: hi\ntools: *a9\n"


def _bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n" + AGENT


def _env(tmp_path: Path) -> dict[str, str]:
    return {"BASTION_HOME": str(tmp_path / "home"), "BASTION_PASSPHRASE": "test passphrase"}


def test_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".bastion" / "agents").mkdir(parents=True)
    (ws / ".bastion" / "agents" / "bomb.yaml").write_text(_bomb())
    listed = run_bastion("agents", "list", cwd=ws, env=_env(tmp_path), timeout=60)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith("bomb"))
    assert "INVALID" in line and "aliases" in line, line
    ran = run_bastion("run", "hi", "-w", ws, "--agent", "bomb", "--provider", "replay",
                      "--script", tmp_path / "none.jsonl", env=_env(tmp_path), timeout=60)
    assert ran.returncode in (1, 2), ran.stderr
    assert "internal error" not in ran.stderr.lower()


def test_oversized_definition_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".bastion" / "agents").mkdir(parents=True)
    (ws / ".bastion" / "agents" / "big.yaml").write_text(
        "name: big\ndescription: x\nprompt: |\n" + "  word\n" * 60_000)
    listed = run_bastion("agents", "list", cwd=ws, env=_env(tmp_path), timeout=60)
    line = next(x for x in listed.stdout.splitlines() if x.startswith("big"))
    assert "INVALID" in line and "KiB" in line, line


def test_anchors_without_aliases_still_load(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".bastion" / "agents").mkdir(parents=True)
    (ws / ".bastion" / "agents" / "ok.yaml").write_text(
        "name: ok\ndescription: &d plain agent\nprompt: hi\n")
    listed = run_bastion("agents", "list", cwd=ws, env=_env(tmp_path), timeout=60)
    line = next(x for x in listed.stdout.splitlines() if x.startswith("ok"))
    assert "INVALID" not in line, line

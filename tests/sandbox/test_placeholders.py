"""Protected paths that do not exist yet (shell start-up files, ``.git``, ``.vscode``, ...) are
covered by a read-only mount on an empty placeholder, so a command cannot create them. The
placeholders are made by Bastion before bubblewrap starts — hard links to the empty file mounted
over them (or, on another file system, to one new file per folder) — and removed afterwards.
Every probe runs inside the sandbox; the verdict is read from the disk outside it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bastion.sandbox import compile_spec
from bastion.sandbox.mounts import build_args, create_placeholders, remove_placeholders

from .conftest import Box

pytestmark = pytest.mark.sandbox

#: ways a command could try to bring a missing protected name ($p) into existence
_ATTEMPTS = (
    'echo x > "$p"', 'echo x >> "$p"', 'mkdir "$p"', 'mkdir -p "$p/sub"', 'ln -s /tmp "$p"',
    'ln decoy "$p"', 'mv decoy2 "$p"', 'rm -rf "$p"; echo x > "$p"', 'cp decoy "$p"',
    'touch "$p"', 'mkfifo "$p"',
    "python3 -c 'import os,sys; os.rename(\"decoy3\", sys.argv[1])' \"$p\"",
)


def _listing(root: Path) -> dict[str, tuple[int, int, int]]:
    found = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:  # hidden entries included
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.relpath(os.path.join(dirpath, name), root)] = (
                st.st_mode, st.st_size, st.st_ino)
    return found


def _missing_protected(box: Box) -> list[str]:
    spec = compile_spec(box.policy, box.settings)
    names = [str(p) for p in spec.protected if not os.path.lexists(p)]
    assert names
    return names


@pytest.mark.parametrize("layout", ["empty", "git-without-hooks", "config-without-fish"])
def test_no_missing_protected_name_can_be_created(box: Box, layout: str) -> None:
    if layout == "git-without-hooks":  # the placeholders' folder is .git, not the workspace
        (box.ws / ".git").mkdir()
        (box.ws / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    elif layout == "config-without-fish":
        (box.ws / ".config").mkdir()
    missing = _missing_protected(box)
    rel = [os.path.relpath(p, box.ws) for p in missing]
    for name in ("decoy", "decoy2", "decoy3"):
        (box.ws / name).write_text("decoy\n")
    before = _listing(box.ws)
    script = "; ".join(
        f"for p in {' '.join(repr(r) for r in rel)}; do ({a}) 2>/dev/null && echo \"made $p\"; "
        "done" for a in _ATTEMPTS)
    out = box.run(script + "; true", timeout=30)
    assert out.result is not None and out.result.exit_code == 0, out.result
    assert "made " not in out.result.stdout, out.result.stdout
    for p in missing:  # from the disk: nothing exists under any protected name
        assert not os.path.lexists(p), p
    assert _listing(box.ws) == before  # decoys unmoved, no placeholder left behind


def _empty(tmp_path: Path) -> str:
    empty = tmp_path / "lib-empty"
    empty.write_bytes(b"")
    empty.chmod(0o444)
    return str(empty)


def test_placeholders_are_links_to_the_empty_file_and_removed(tmp_path: Path) -> None:
    empty = _empty(tmp_path)
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    paths = [ws / ".bashrc", ws / ".profile", ws / ".vscode", ws / ".git" / "hooks",
             ws / ".git" / "config"]
    made = create_placeholders(paths, empty)
    assert made == [str(p) for p in paths]
    for p in paths:  # no new inode at all: every name is the empty file's
        st = os.lstat(p)
        assert stat.S_ISREG(st.st_mode) and st.st_size == 0 and st.st_mode & 0o777 == 0o444, p
        assert os.path.samestat(st, os.lstat(empty)), p
    assert os.lstat(empty).st_nlink == 1 + len(paths)
    remove_placeholders(made)
    assert sorted(os.listdir(ws)) == [".git"] and not os.listdir(ws / ".git")
    assert os.lstat(empty).st_nlink == 1 and os.path.getsize(empty) == 0


@pytest.mark.parametrize("source", [None, "/dev/null"])  # none, or one on another file system
def test_without_a_linkable_empty_file_one_file_per_folder(tmp_path: Path,
                                                           source: str | None) -> None:
    (tmp_path / ".git").mkdir()
    paths = [tmp_path / ".bashrc", tmp_path / ".profile", tmp_path / ".vscode",
             tmp_path / ".git" / "hooks", tmp_path / ".git" / "config"]
    made = create_placeholders(paths, source)
    assert made == [str(p) for p in paths]
    inodes = {p: os.lstat(p) for p in paths}
    for p, st in inodes.items():
        assert stat.S_ISREG(st.st_mode) and st.st_size == 0 and st.st_mode & 0o777 == 0o444, p
    # one inode per folder: the workspace's three names share one, .git's two another
    assert len({inodes[p].st_ino for p in paths[:3]}) == 1
    assert len({inodes[p].st_ino for p in paths[3:]}) == 1
    assert inodes[paths[0]].st_nlink == 3
    remove_placeholders(made)
    assert sorted(os.listdir(tmp_path)) == [".git"] and not os.listdir(tmp_path / ".git")


def test_an_existing_file_is_never_taken_for_a_placeholder(tmp_path: Path) -> None:
    mine = tmp_path / ".bashrc"
    mine.write_text("the user's own\n")
    link = tmp_path / ".profile"
    link.symlink_to(tmp_path / "elsewhere")
    made = create_placeholders([mine, link, tmp_path / ".zshrc"], _empty(tmp_path))
    assert made == [str(tmp_path / ".zshrc")]  # only what this call created
    assert not (tmp_path / "elsewhere").exists()  # a symbolic link is not followed
    remove_placeholders(made)
    assert mine.read_text() == "the user's own\n" and link.is_symlink()
    assert not (tmp_path / ".zshrc").exists()


def test_placeholder_removal_leaves_a_replaced_name_alone(tmp_path: Path) -> None:
    made = create_placeholders([tmp_path / ".bashrc", tmp_path / ".zshrc"], _empty(tmp_path))
    (tmp_path / ".bashrc").unlink()
    (tmp_path / ".bashrc").write_text("written meanwhile by someone else\n")
    remove_placeholders(made)
    assert (tmp_path / ".bashrc").read_text() == "written meanwhile by someone else\n"
    assert not (tmp_path / ".zshrc").exists()


def test_plan_lists_the_missing_names_and_creates_nothing(box: Box) -> None:
    before = _listing(box.ws)
    plan = build_args(compile_spec(box.policy, box.settings), seccomp_fd=None,
                      use_landlock=False)
    assert {str(p) for p in plan.placeholders} >= {str(box.ws / ".bashrc"),
                                                   str(box.ws / ".git")}
    assert _listing(box.ws) == before  # building the arguments touches nothing


@pytest.mark.parametrize("blocker", [".config", ".git"])
def test_a_file_where_a_protected_folder_would_be_stays_that_file(box: Box,
                                                                  blocker: str) -> None:
    """``.config`` (or ``.git``) as a *file* — the user's, or a killed run's placeholder: commands
    still run, and cannot replace it to create the protected names beneath it."""
    (box.ws / blocker).write_text("")
    before = _listing(box.ws)
    script = (f"rm -f {blocker}; rm -rf {blocker}; mv {blocker} moved; "
              f"mkdir -p {blocker}/fish {blocker}/hooks; echo x > {blocker}/fish/config.fish; "
              f"echo x > {blocker}/hooks/pre-commit; echo x > {blocker}; echo ran")
    out = box.run(script + " 2>/dev/null; true", timeout=30)
    assert out.result is not None and out.result.exit_code == 0, out.result
    assert "ran" in out.result.stdout  # the sandbox was built: the command ran
    assert (box.ws / blocker).is_file() and (box.ws / blocker).read_bytes() == b""
    assert _listing(box.ws) == before

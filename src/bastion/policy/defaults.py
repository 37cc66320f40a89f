"""Built-in protections that hold inside every grant and that no allow rule can lift.

- **Deny-read** paths (secrets): the agent can neither read nor write them.
- **Protected** paths (configuration an agent could use to escape or persist): read-only,
  even inside a writable grant and *even when they do not exist yet* — matching is by name on
  the canonical path, so creating ``.git/hooks/pre-commit`` is refused as much as changing it.

Names are compared case-insensitively: on a case-insensitive file system ``.GIT/hooks`` is
``.git/hooks``, and refusing a harmless odd spelling on Linux costs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from .patterns import PathPattern

#: file names that hold secrets (any depth, any grant)
DENY_READ_NAMES: tuple[str, ...] = (
    ".env", ".env.*", "*.pem", "*.key", "id_rsa*", "id_ed25519*", "id_ecdsa*", "id_dsa*",
    ".netrc", ".pgpass", ".npmrc", ".pypirc",
)
#: secret folders below the home directory
DENY_READ_HOME_DIRS: tuple[str, ...] = (
    ".ssh", ".aws", ".gnupg", ".config/gcloud", ".azure", ".kube", ".docker",
    ".password-store", ".local/share/keyrings",
)

#: protected directory-or-file paths, as component sequences matched at any depth
PROTECTED_SEQUENCES: tuple[tuple[str, ...], ...] = (
    (".bastion",),
    (".git", "hooks"),
    (".git", "config"),
    (".github", "workflows"),
    (".vscode",),
    (".idea",),
    (".config", "fish"),
)
#: protected file names at any depth (``.git`` itself: a ``.git`` *file* can point git at a
#: directory of the agent's choosing, with hooks in it)
PROTECTED_NAMES: frozenset[str] = frozenset({
    ".git", ".gitmodules", ".mcp.json",
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
    ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout",
    ".cshrc", ".tcshrc", ".kshrc", ".mkshrc", ".inputrc",
})


def _fold(parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p.casefold() for p in parts)


def protected_match(path: Path) -> str | None:
    """The protected entry ``path`` falls under (e.g. ``.git/hooks``), or None.

    ``path`` must be canonical. Only the path's own components are inspected, so this works
    for paths that do not exist.
    """
    parts = _fold(path.parts)
    if parts and parts[-1] in PROTECTED_NAMES:
        return path.name
    for seq in PROTECTED_SEQUENCES:
        n = len(seq)
        for i in range(1, len(parts) - n + 1):
            if parts[i:i + n] == seq:
                return "/".join(seq) + ("/" if n == 1 or seq[-1] != "config" else "")
    return None


def git_dirs_of(root: Path) -> list[Path]:
    """Real git directories a worktree/submodule ``.git`` *file* at ``root`` points to.

    ``gitdir: X`` names the per-worktree directory; its ``commondir`` file names the main
    repository's git dir, whose ``config`` and ``hooks`` git will also use.
    """
    dot_git = root / ".git"
    try:
        if dot_git.is_symlink() or not dot_git.is_file():
            return []
        text = dot_git.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[Path] = []
    for line in text.splitlines():
        if line.startswith("gitdir:"):
            target = line[len("gitdir:"):].strip()
            gitdir = Path(os.path.realpath(root / target))
            found.append(gitdir)
            try:
                common = (gitdir / "commondir").read_text(encoding="utf-8").strip()
            except OSError:
                common = ""
            if common:
                found.append(Path(os.path.realpath(gitdir / common)))
    return found


def protected_paths(root: Path) -> list[Path]:
    """Concrete protected paths directly under a writable ``root`` (existing or not).

    For the sandbox: bind these read-only (or mask missing ones so they cannot be created).
    Nested occurrences are matched by name in Python; :data:`PROTECTED_NAMES` and
    :data:`PROTECTED_SEQUENCES` describe them for other enforcers.
    """
    paths = [root.joinpath(*seq) for seq in PROTECTED_SEQUENCES]
    # a .git *directory* stays writable (commits); only a .git file (or its creation) is guarded
    paths += [root / name for name in sorted(PROTECTED_NAMES)
              if name != ".git" or not (root / name).is_dir()]
    for gitdir in git_dirs_of(root):
        paths += [gitdir, gitdir / "hooks", gitdir / "config"]
    # dict.fromkeys keeps order and drops duplicates
    return list(dict.fromkeys(paths))


def deny_read_patterns(workspace: Path, home: Path, bastion_home: Path,
                       extra: list[str] | tuple[str, ...] = ()) -> list[PathPattern]:
    """Compiled deny-read patterns: built-in names, home secret dirs, BASTION_HOME, ``extra``."""
    pats = [PathPattern.compile(n, workspace, home) for n in DENY_READ_NAMES]
    pats += [PathPattern.compile("~/" + d, workspace, home) for d in DENY_READ_HOME_DIRS]
    pats.append(PathPattern.compile("//" + str(bastion_home).lstrip("/"), workspace, home))
    pats += [PathPattern.compile(p, workspace, home) for p in extra]
    return pats


def deny_read_paths(home: Path, bastion_home: Path) -> list[Path]:
    """Concrete deny-read directories (for the sandbox to hide with an empty tmpfs)."""
    dirs = [home / d for d in DENY_READ_HOME_DIRS]
    dirs.append(bastion_home)
    return [Path(os.path.realpath(d)) for d in dirs]

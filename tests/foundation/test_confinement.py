"""Read tools are confined to the workspace by real paths compared component-wise."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.policy import Policy, PolicyDenied, is_within
from bastion.tools import ToolContext, read_only_tools


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A workspace, a sibling sharing its name as a prefix, and an outside folder with links."""
    ws = tmp_path / "app"
    sibling = tmp_path / "app-secrets"
    outside = tmp_path / "outside"
    for d in (ws / "sub", sibling, outside):
        d.mkdir(parents=True)
    (ws / "inside.txt").write_text("inside")
    (ws / "sub" / "deep.txt").write_text("deep")
    (sibling / "secret.txt").write_text("SIBLING-SECRET")
    (outside / "secret.txt").write_text("OUTSIDE-SECRET")
    os.symlink(outside, ws / "link-out")
    os.symlink(outside / "secret.txt", ws / "file-link-out")
    os.symlink(ws / "inside.txt", ws / "link-in")
    os.symlink("../../app-secrets", ws / "sub" / "rel-link-out")
    return ws, sibling, outside


SEGMENTS = st.sampled_from(["..", ".", "sub", "inside.txt", "link-out", "file-link-out", "link-in",
                            "rel-link-out", "app", "app-secrets", "secret.txt", "outside", "deep.txt",
                            "", "x"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(SEGMENTS, min_size=1, max_size=6), absolute=st.booleans())
def test_resolved_path_is_allowed_iff_really_inside(layout: tuple[Path, Path, Path],
                                                    parts: list[str], absolute: bool) -> None:
    ws, _, _ = layout
    raw = os.path.join(str(ws.parent) if absolute else "", *parts)
    policy = Policy(ws)
    real = Path(os.path.realpath(ws / raw))
    inside = real == ws or str(real).startswith(str(ws) + os.sep)
    try:
        resolved = policy.resolve_read(raw)
    except PolicyDenied:
        assert not inside
    else:
        assert inside and is_within(resolved, ws) and resolved == real


@pytest.mark.parametrize("raw", [
    "../app-secrets/secret.txt", "../outside/secret.txt", "link-out/secret.txt", "file-link-out",
    "sub/rel-link-out/secret.txt", "sub/../../outside/secret.txt", "/etc/passwd",
])
def test_read_tools_deny_escapes(layout: tuple[Path, Path, Path], raw: str) -> None:
    ws, _, _ = layout
    absolute = raw.replace("..", str(ws.parent), 1) if raw.startswith("../") else raw
    ctx = ToolContext(workspace=ws, policy=Policy(ws))
    read_file = read_only_tools()[0]
    for candidate in {raw, absolute}:
        result = read_file.run(read_file.parse({"path": candidate}), ctx)
        assert result.is_error and "outside the workspace" in result.content
        assert "SECRET" not in result.content


def test_listings_do_not_follow_links_out(layout: tuple[Path, Path, Path]) -> None:
    ws, _, _ = layout
    ctx = ToolContext(workspace=ws, policy=Policy(ws))
    tools = {t.name: t for t in read_only_tools()}
    grep = tools["grep"].run(tools["grep"].parse({"pattern": "SECRET"}), ctx)
    assert "SECRET" not in grep.content
    globbed = tools["glob"].run(tools["glob"].parse({"pattern": "**/*.txt"}), ctx)
    assert "secret" not in globbed.content and "inside.txt" in globbed.content
    escape = tools["glob"].run(tools["glob"].parse({"pattern": "../*/secret.txt"}), ctx)
    assert escape.is_error
    listing = tools["list_dir"].run(tools["list_dir"].parse({"path": "link-out"}), ctx)
    assert listing.is_error and "secret.txt" not in listing.content
    inside = tools["read_file"].run(tools["read_file"].parse({"path": "link-in"}), ctx)
    assert not inside.is_error and "inside" in inside.content


def test_prefix_sibling_is_not_inside(tmp_path: Path) -> None:
    assert not is_within(tmp_path / "app-secrets" / "x", tmp_path / "app")
    assert is_within(tmp_path / "app" / "x", tmp_path / "app")

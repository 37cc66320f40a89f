"""`bastion scan` / `bastion redact` contract, through a tiny Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from bastion.cli.scan import ScanInputError, redact, scan

GH = "ghp_" + "Zq8mK2vL9pX4tR7bN3wY6cH1dF5gJ0sA2eQ4"
AWS = "AKIAQ3EGUHXJ4LRDKZ5A"

app = typer.Typer()
app.command()(scan)
app.command()(redact)
runner = CliRunner()


def test_scan_stdin_json_offsets() -> None:
    text = "ünïcode first line\nexport GITHUB_TOKEN=" + GH + "\n"
    result = runner.invoke(app, ["scan", "-", "--format", "json"], input=text)
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)
    assert len(findings) == 1
    f = findings[0]
    assert set(f) == {"rule_id", "start", "end", "line", "confidence"}
    assert f["rule_id"] == "github-pat" and f["line"] == 2
    assert text[f["start"] : f["end"]] == GH


def test_scan_clean_exit_zero(tmp_path: Path) -> None:
    p = tmp_path / "clean.py"
    p.write_text("def f(x):\n    return x + 1\n")
    result = runner.invoke(app, ["scan", str(p), "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    result = runner.invoke(app, ["scan", str(p)])
    assert result.exit_code == 0


def test_scan_text_format_masks_secret(tmp_path: Path) -> None:
    p = tmp_path / "a.env"
    p.write_text(f"AWS_ACCESS_KEY_ID={AWS}\n")
    result = runner.invoke(app, ["scan", str(p)])
    assert result.exit_code == 1
    assert "aws-access-key-id" in result.stdout and AWS not in result.stdout


def test_scan_directory_recursive_skips_binary(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "cfg.yaml").write_text(f"token: {GH}\n")
    (tmp_path / "clean.txt").write_text("nothing here\n")
    (tmp_path / "blob.bin").write_bytes(b"\0\x01" + GH.encode())
    result = runner.invoke(app, ["scan", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1
    findings = json.loads(result.stdout)
    assert [Path(f["path"]).name for f in findings] == ["cfg.yaml"]
    text = (tmp_path / "sub" / "cfg.yaml").read_text()
    assert text[findings[0]["start"] : findings[0]["end"]] == GH


def test_scan_batch() -> None:
    lines = "\n".join(
        [
            json.dumps({"id": "a", "text": "nothing"}),
            json.dumps({"id": 2, "text": f"key {AWS}"}),
            "not json",
        ]
    )
    result = runner.invoke(app, ["scan", "--batch"], input=lines + "\n")
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out[0] == {"id": "a", "findings": []}
    assert out[1]["id"] == 2 and out[1]["findings"][0]["rule_id"] == "aws-access-key-id"
    assert out[1]["findings"][0]["start"] == 4
    assert "error" in out[2]


def test_redact_every_occurrence(tmp_path: Path) -> None:
    p = tmp_path / "notes.md"
    p.write_text(f"token={GH}\nlater: {GH}\n")
    result = runner.invoke(app, ["redact", str(p)])
    assert result.exit_code == 0
    assert GH not in result.stdout
    assert result.stdout == "token=[[SECRET:github-pat:1]]\nlater: [[SECRET:github-pat:1]]\n"


def test_scan_missing_path() -> None:
    result = runner.invoke(app, ["scan", "/nonexistent/zzz"])
    assert isinstance(result.exception, ScanInputError)
    assert result.exception.exit_code == 2


def test_scan_with_user_rules(tmp_path: Path) -> None:
    cfg = tmp_path / "rules.toml"
    cfg.write_text(
        "[[rules]]\nid = \"acme\"\nregex = '''\\b(acme_[a-z0-9]{20})\\b'''\nkeywords = [\"acme_\"]\n"
    )
    result = runner.invoke(
        app, ["scan", "-", "--format", "json", "--rules", str(cfg)],
        input="id acme_k2j4h5g6f7d8s9a0q1w2\n",
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)[0]["rule_id"] == "acme"

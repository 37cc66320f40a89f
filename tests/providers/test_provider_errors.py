"""Every way a provider request fails becomes one clear ProviderError line."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest
import respx

from bastion.config import Settings
from bastion.config.models import EndpointProviderSettings
from bastion.providers import ModelRequest, Provider, ProviderError
from bastion.providers.anthropic_provider import AnthropicProvider
from bastion.providers.openai_compat import OpenAICompatibleProvider

REQUEST = ModelRequest([{"role": "user", "content": "hi"}], max_tokens=16)


def openai_provider(settings: Settings, url: str = "https://api.openai.com/v1",
                    stream: bool = True) -> Provider:
    endpoint = EndpointProviderSettings(endpoint=url, model="gpt-test", timeout_s=5)
    return OpenAICompatibleProvider("openai", endpoint, settings, api_key="sk-test",
                                    stream=stream)


def anthropic_provider(settings: Settings, url: str = "https://api.anthropic.com") -> Provider:
    endpoint = EndpointProviderSettings(endpoint=url, model="claude-test", timeout_s=5)
    return AnthropicProvider(endpoint, settings, api_key="sk-ant-test")


PROVIDERS: dict[str, tuple[Callable[..., Provider], str]] = {
    "openai": (openai_provider, "https://api.openai.com/v1/chat/completions"),
    "openai-nostream": (lambda s: openai_provider(s, stream=False),
                        "https://api.openai.com/v1/chat/completions"),
    "anthropic": (anthropic_provider, "https://api.anthropic.com/v1/messages"),
}

CASES = {
    401: ("authentication failed (401)", "bastion keys set"),
    429: ("rate limited (429)", "slow down"),
    500: ("server error (500)", "boom"),
}


@pytest.mark.parametrize("which", PROVIDERS)
@pytest.mark.parametrize("status", CASES)
@respx.mock
def test_status_errors(which: str, status: int, settings: Settings) -> None:
    factory, url = PROVIDERS[which]
    message = {401: "invalid x-api-key", 429: "slow down", 500: "boom"}[status]
    error = ({"type": "error", "error": {"type": "api_error", "message": message}}
             if which == "anthropic" else {"error": {"message": message, "type": "x"}})
    route = respx.post(url).mock(return_value=httpx.Response(status, json=error))
    with pytest.raises(ProviderError) as info:
        factory(settings).complete(REQUEST)
    text = str(info.value)
    for fragment in CASES[status]:
        assert fragment in text
    assert "\n" not in text and which.split("-")[0] in text
    assert route.call_count <= 2  # retries are bounded


@pytest.mark.parametrize("which", PROVIDERS)
@respx.mock
def test_malformed_body(which: str, settings: Settings) -> None:
    factory, url = PROVIDERS[which]
    respx.post(url).mock(return_value=httpx.Response(
        200, text="{this is not json", headers={"content-type": "application/json"}))
    with pytest.raises(ProviderError, match="malformed"):
        factory(settings).complete(REQUEST)


@pytest.mark.parametrize("which", ["openai", "anthropic"])
@respx.mock
def test_wrong_shape_body(which: str, settings: Settings) -> None:
    factory, url = PROVIDERS[which]
    respx.post(url).mock(return_value=httpx.Response(200, json={"unexpected": True}))
    with pytest.raises(ProviderError, match="malformed"):
        factory(settings).complete(REQUEST)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("which", ["openai", "local", "anthropic"])
def test_connection_refused(which: str, settings: Settings) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    if which == "anthropic":
        provider = anthropic_provider(settings, url)
    else:
        endpoint = EndpointProviderSettings(endpoint=url + "/v1", model="m", timeout_s=5)
        provider = OpenAICompatibleProvider(which, endpoint, settings, api_key="k")
    with pytest.raises(ProviderError, match="cannot reach") as info:
        provider.complete(REQUEST)
    assert "127.0.0.1" in str(info.value) and "\n" not in str(info.value)

"""The completions hooks, each exercised through a started application with in-test plugins."""

from __future__ import annotations

import pytest

from colonnade import StartupError, hookimpl
from colonnade.plugins.completions.providers import LLMProvider

pytestmark = pytest.mark.asyncio


class EchoProvider:
    """Answers with the last user message; lists one model."""

    def __init__(self, name: str = "echo", models: tuple[str, ...] = ("echo-1",)) -> None:
        self.name = name
        self.models = models

    async def list_models(self, actor):
        return [
            {"id": m, "name": m, "object": "model", "created": 0, "owned_by": self.name} for m in self.models
        ]

    async def complete(self, request, actor):
        text = request["messages"][-1]["content"]
        return {
            "id": "x",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        }


class Providers:
    __name__ = "test_providers"

    def __init__(self, *providers):
        self.providers = providers

    @hookimpl
    def register_llm_providers(self, host):
        return list(self.providers)


async def test_hook_register_llm_providers(make_app):
    echo = EchoProvider()
    app = await make_app(load_plugins=["completions"], plugins=[Providers(echo)])
    registry = app.extensions["colonnade"].state("completions").providers
    assert list(registry) == ["echo"]
    assert registry["echo"] is echo
    assert isinstance(echo, LLMProvider)


async def test_duplicate_provider_names_stop_the_start(make_app):
    with pytest.raises(StartupError, match="duplicate LLM provider name: 'echo'"):
        await make_app(load_plugins=["completions"], plugins=[Providers(EchoProvider(), EchoProvider())])

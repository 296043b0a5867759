"""The completions hooks, each exercised through a started application with in-test plugins."""

from __future__ import annotations

import pytest

from colonnade import StartupError, await_me_maybe, compose_stream_wrappers, hookimpl
from colonnade.plugins.completions.providers import CompletionContext, LLMProvider

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


async def test_hook_completion_route_model(make_app):
    class Router:
        __name__ = "router"

        @hookimpl
        def completion_route_model(self, model_id):
            return "echo" if model_id.startswith("mine/") else None

    app = await make_app(load_plugins=["completions"], plugins=[Providers(EchoProvider()), Router()])
    host = app.extensions["colonnade"]
    assert (
        await await_me_maybe(host.pm.hook.completion_route_model(host=host, model_id="mine/x", actor=None))
        == "echo"
    )


async def test_hook_completion_inlet(make_app):
    class Inlet:
        __name__ = "inlet"

        @hookimpl
        async def completion_inlet(self, ctx):
            ctx.request["messages"].insert(0, {"role": "system", "content": "Be brief."})

    app = await make_app(load_plugins=["completions"], plugins=[Inlet()])
    host = app.extensions["colonnade"]
    ctx = CompletionContext(request={"messages": []}, actor=None, model_id="m", provider="echo")
    for result in host.pm.hook.completion_inlet(host=host, ctx=ctx):
        await await_me_maybe(result)
    assert ctx.request["messages"] == [{"role": "system", "content": "Be brief."}]


async def test_hook_completion_stream_wrapper(make_app):
    class Upper:
        __name__ = "upper"

        @hookimpl
        def completion_stream_wrapper(self, ctx):
            async def wrap(chunks):
                async for chunk in chunks:
                    yield chunk.upper()

            return wrap

    app = await make_app(load_plugins=["completions"], plugins=[Upper()])
    host = app.extensions["colonnade"]
    ctx = CompletionContext(request={}, actor=None, model_id="m", provider="echo", stream=True)
    wrap = compose_stream_wrappers(host.pm.hook.completion_stream_wrapper(host=host, ctx=ctx))

    async def source():
        yield "a"
        yield "b"

    assert [chunk async for chunk in wrap(source())] == ["A", "B"]


async def test_hook_completion_outlet(make_app):
    class Outlet:
        __name__ = "outlet"

        @hookimpl
        def completion_outlet(self, response):
            response["seen"] = True

    app = await make_app(load_plugins=["completions"], plugins=[Outlet()])
    host = app.extensions["colonnade"]
    ctx = CompletionContext(request={}, actor=None, model_id="m", provider="echo")
    response: dict = {}
    for result in host.pm.hook.completion_outlet(host=host, ctx=ctx, response=response):
        await await_me_maybe(result)
    assert response == {"seen": True}

"""The ``ollama`` LLM provider: OpenAI chat requests translated to Ollama's ``/api/chat`` and back."""

from __future__ import annotations

import asyncio

import pytest

from colonnade.actors import Actor


@pytest.fixture
def actor() -> Actor:
    return Actor(id="u1", role="user")


async def provider_for(make_app, config):
    from colonnade.plugins.ollama.provider import OllamaProvider

    app = await make_app(config=config, load_plugins=["ollama"])
    return OllamaProvider(app.extensions["colonnade"])


@pytest.mark.asyncio
async def test_lists_models_in_open_webui_shape(make_app, fake_upstream, ollama_config, actor):
    fake = await fake_upstream("ollama")
    provider = await provider_for(make_app, ollama_config({"base_url": fake.base_url, "prefix_id": "box"}))
    models = await provider.list_models(actor)
    assert [model["id"] for model in models] == ["box.llama3.2:latest", "box.nomic-embed-text:latest"]
    first = models[0]
    assert (
        first["owned_by"] == "ollama" and first["object"] == "model" and first["connection_type"] == "local"
    )
    assert first["ollama"]["details"]["family"] == "llama" and first["ollama"]["urls"] == [0]
    assert [model["id"] for model in await provider.list_models(None)] == [model["id"] for model in models]


@pytest.mark.asyncio
async def test_translates_a_request_and_the_answer(make_app, fake_upstream, ollama_config, actor):
    fake = await fake_upstream("ollama")
    provider = await provider_for(make_app, ollama_config(fake))
    fake.app.ollama.reply_with(["It is ", "blue."])
    answer = await provider.complete(
        {
            "model": "llama3.2:latest",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What colour?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    ],
                },
            ],
            "temperature": 0.2,
            "top_p": 0.9,
            "max_tokens": 64,
            "seed": 7,
            "stop": "\n\n",
            "stream": False,
        },
        actor,
    )
    assert fake.requests[-1].json() == {
        "model": "llama3.2:latest",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What colour?", "images": ["iVBORw0KGgo="]},
        ],
        "stream": False,
        "options": {"temperature": 0.2, "top_p": 0.9, "seed": 7, "num_predict": 64, "stop": ["\n\n"]},
    }
    assert answer["object"] == "chat.completion" and answer["model"] == "llama3.2:latest"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "It is blue."}
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


@pytest.mark.asyncio
async def test_streams_chunks_with_a_final_usage(make_app, fake_upstream, ollama_config, actor):
    fake = await fake_upstream("ollama")
    provider = await provider_for(make_app, ollama_config(fake))
    chunks = await provider.complete(
        {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": True}, actor
    )
    received = [chunk async for chunk in chunks]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in received)
    assert len({chunk["id"] for chunk in received}) == 1
    deltas = [chunk["choices"][0]["delta"] for chunk in received]
    assert deltas == [
        {"role": "assistant", "content": "Hello"},
        {"content": " from"},
        {"content": " Ollama"},
        {},
    ]
    assert received[-1]["choices"][0]["finish_reason"] == "stop"
    assert received[-1]["usage"] == {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}
    assert fake.requests[-1].json()["stream"] is True


@pytest.mark.asyncio
async def test_failures_are_provider_errors(make_app, fake_upstream, ollama_config, actor):
    from colonnade.plugins.completions.providers import ProviderError

    fake = await fake_upstream("ollama")
    provider = await provider_for(make_app, ollama_config(fake))
    request = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with pytest.raises(ProviderError) as raised:
        await provider.complete({**request, "model": "missing"}, actor)
    assert raised.value.status == 404
    with pytest.raises(ProviderError) as raised:
        await provider.complete(
            {
                **request,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
                    }
                ],
            },
            actor,
        )
    assert raised.value.status == 400

    fake.app.ollama.fail("/api/chat", 500, "out of memory")
    with pytest.raises(ProviderError) as raised:
        await provider.complete(request, actor)
    assert (raised.value.status, raised.value.detail) == (502, "Ollama upstream 'u0': out of memory")

    del fake.app.ollama.errors["/api/chat"]
    fake.app.ollama.malformed_at = 2
    chunks = await provider.complete(request, actor)
    received = []
    with pytest.raises(ProviderError, match="malformed stream"):
        async for chunk in chunks:
            received.append(chunk)
    assert len(received) == 2


@pytest.mark.asyncio
async def test_closing_the_stream_cancels_the_upstream(make_app, fake_upstream, ollama_config, actor):
    fake = await fake_upstream("ollama")
    provider = await provider_for(make_app, ollama_config(fake))
    fake.app.ollama.stall = asyncio.Event()
    chunks = await provider.complete(
        {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": True}, actor
    )
    first = await anext(chunks)
    assert first["choices"][0]["delta"]["content"] == "Hello"
    await asyncio.wait_for(fake.app.ollama.stalled.wait(), 10)
    await chunks.aclose()  # what the completions feature does when its client goes away
    await asyncio.wait_for(fake.app.ollama.cancelled.wait(), 10)

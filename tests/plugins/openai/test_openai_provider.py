"""The connections as the ``openai`` LLM provider of the completions feature (``/api/chat/completions``)."""

from __future__ import annotations

import httpx
import pytest
from openai_helpers import UPSTREAM_KEY, connection, posts

pytestmark = pytest.mark.asyncio


async def test_completions_lists_and_routes_to_the_connections(proxy, upstream):
    running = await proxy([connection(upstream, prefix_id="oa", name="main")], load_plugins=("completions",))
    async with httpx.AsyncClient(base_url=running.url) as http:
        listed = (await http.get("/api/models", headers=running.admin)).json()["data"]
    mine = {model["id"]: model for model in listed if model["owned_by"] == "openai"}
    assert set(mine) == {"oa.gpt-4o-mini", "oa.text-embedding-3-small"}
    assert mine["oa.gpt-4o-mini"]["urlIdx"] == 0

    sdk = running.sdk(running.admin, prefix="/api")
    upstream.app.control.reply = "through the pipeline"
    answer = await sdk.chat.completions.create(
        model="oa.gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "through the pipeline"
    upstream.app.control.chunk_count = 12
    stream = await sdk.chat.completions.create(model="oa.gpt-4o-mini", messages=[], stream=True)
    pieces = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
    assert "".join(piece or "" for piece in pieces) == "".join(upstream.app.control.pieces())
    sent = posts(upstream)
    assert [(s.json()["model"], s.json().get("stream")) for s in sent] == [
        ("gpt-4o-mini", None),
        ("gpt-4o-mini", True),
    ]
    assert all(s.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}" for s in sent)


async def test_upstream_failures_keep_their_status_through_completions(proxy, upstream):
    import openai

    running = await proxy([connection(upstream, name="main")], load_plugins=("completions",))
    sdk = running.sdk(running.admin, prefix="/api")
    upstream.app.control.fail(503, "overloaded")
    with pytest.raises(openai.APIStatusError) as caught:
        await sdk.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
    assert caught.value.status_code == 502
    assert "OpenAI upstream 'main' failed (503): overloaded" in str(caught.value.body)
    upstream.app.control.fail(401, f"Incorrect API key provided: {UPSTREAM_KEY}")
    with pytest.raises(openai.AuthenticationError) as caught:
        await sdk.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert UPSTREAM_KEY not in str(caught.value.body) and UPSTREAM_KEY not in caught.value.response.text


async def test_the_provider_answers_a_stream_the_upstream_sent_whole(proxy, upstream):
    """An upstream that ignores ``stream`` and answers JSON still gives the feature chunks."""
    from colonnade.plugins.openai.provider import OpenAIProvider

    running = await proxy([connection(upstream)], load_plugins=("completions",))
    provider = running.app.extensions["colonnade"].state("completions").providers["openai"]
    assert isinstance(provider, OpenAIProvider)
    upstream.app.control.reply = "whole"
    upstream.app.control.ignore_stream = True
    chunks = await provider.complete({"model": "gpt-4o-mini", "messages": [], "stream": True}, actor=None)
    assert [chunk["choices"][0]["delta"]["content"] async for chunk in chunks] == ["whole"]
    answer = await provider.complete({"model": "gpt-4o-mini", "messages": []}, actor=None)
    assert answer["object"] == "chat.completion" and answer["choices"][0]["message"]["content"] == "whole"
    assert [model["id"] for model in await provider.list_models(None)] == [
        "gpt-4o-mini",
        "text-embedding-3-small",
    ]


async def test_a_client_leaving_a_completions_stream_cancels_the_upstream(proxy, upstream):
    import asyncio

    running = await proxy([connection(upstream)], load_plugins=("completions",))
    control = upstream.app.control
    control.stall = asyncio.Event()  # the upstream holds the stream open after its first chunk
    body = {"model": "gpt-4o-mini", "messages": [], "stream": True}
    async with (
        httpx.AsyncClient(base_url=running.url, timeout=30) as http,
        http.stream("POST", "/api/chat/completions", headers=running.admin, json=body) as answer,
    ):
        assert answer.status_code == 200
        assert b"assistant" in await anext(answer.aiter_bytes())
    await asyncio.wait_for(control.stream_closed.wait(), 10)
    assert control.cancelled is True

"""Pipe functions as models: listed in ``/api/models``, answering ``/api/chat/completions``, through the
real ``openai`` client against the app served on loopback."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from functions_helpers import HELLO, create, sample

pytestmark = pytest.mark.asyncio


async def sdk(serve, env, headers=None, prefix="/api") -> openai.AsyncOpenAI:
    base = await serve(env.app)
    token = (headers or env.user)["Authorization"].removeprefix("Bearer ")
    return openai.AsyncOpenAI(base_url=f"{base}{prefix}", api_key=token, max_retries=0)


async def test_a_manifold_lists_one_model_per_sub_pipe(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    listed = await (await env.client.get("/api/models", headers=env.user)).get_json()
    models = {model["id"]: model for model in listed["data"]}
    assert set(models) == {"echo.shout", "echo.whisper"}
    assert models["echo.shout"]["name"] == "Echo/Shout"
    assert models["echo.shout"]["owned_by"] == "openai"
    assert models["echo.shout"]["pipe"] == {"type": "pipe"}
    assert models["echo.shout"]["has_user_valves"] is False


async def test_a_plain_pipe_is_one_model_named_like_the_function(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "story", sample("async_pipe"), name="Async Story")
    listed = await (await env.client.get("/api/v1/models", headers=env.user)).get_json()
    assert [(model["id"], model["name"]) for model in listed["data"]] == [("story", "Async Story")]


@pytest.mark.parametrize("prefix", ["/api", "/api/v1"])
async def test_the_openai_client_gets_a_whole_answer(functions_env, serve, prefix):
    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    client = await sdk(serve, env, prefix=prefix)
    answer = await client.chat.completions.create(model="echo.shout", messages=HELLO)
    assert answer.choices[0].message.content == "HELLO DARN WORLD"
    assert answer.choices[0].finish_reason == "stop"


async def test_the_openai_client_streams_a_generator_word_by_word(functions_env, serve):
    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    client = await sdk(serve, env)
    stream = await client.chat.completions.create(model="echo.whisper", messages=HELLO, stream=True)
    chunks = [chunk async for chunk in stream]
    pieces = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices[0].delta.content]
    assert pieces == ["hello", " darn", " world"]
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_an_async_pipe_returning_an_async_generator_streams(functions_env, serve):
    env = await functions_env()
    await create(env.client, env.admin, "story", sample("async_pipe"))
    client = await sdk(serve, env)
    stream = await client.chat.completions.create(model="story", messages=HELLO, stream=True)
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    assert text == "word0 word1 word2 "
    whole = await client.chat.completions.create(model="story", messages=HELLO)
    assert whole.choices[0].message.content == "word0 word1 word2 "


async def test_valves_reach_the_pipe_and_deactivation_removes_its_models_at_once(functions_env, serve):
    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    response = await env.client.post(
        "/api/v1/functions/id/echo/valves/update", json={"SUFFIX": "!"}, headers=env.admin
    )
    assert await response.get_json() == {"SUFFIX": "!"}
    client = await sdk(serve, env)
    answer = await client.chat.completions.create(model="echo.shout", messages=HELLO)
    assert answer.choices[0].message.content == "HELLO DARN WORLD !"

    await env.client.post("/api/functions/echo/toggle", headers=env.admin)
    listed = await (await env.client.get("/api/models", headers=env.user)).get_json()
    assert listed["data"] == []
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="echo.shout", messages=HELLO)


async def test_a_change_made_by_another_worker_is_seen_on_the_next_request(functions_env):
    """Another worker shares only the database: write the row directly, as it would."""
    from colonnade.plugins.functions.models import Function

    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    row = await Function.get(id="echo")
    row.is_active = False
    row.version += 1
    await row.save()
    listed = await (await env.client.get("/api/models", headers=env.user)).get_json()
    assert listed["data"] == []
    assert "echo" not in env.registry.live
    row.is_active = True
    row.version += 1
    await row.save()
    body = {"model": "echo.shout", "messages": HELLO}
    response = await env.client.post("/api/chat/completions", json=body, headers=env.user)
    assert response.status_code == 200
    assert (await response.get_json())["choices"][0]["message"]["content"] == "HELLO DARN WORLD"


async def test_the_stream_is_sse_ending_in_done(functions_env, serve):
    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    base = await serve(env.app)
    async with httpx.AsyncClient(base_url=base, headers=env.user) as client:
        body = {"model": "echo.shout", "messages": HELLO, "stream": True}
        async with client.stream("POST", "/api/chat/completions", json=body) as response:
            lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    first = json.loads(lines[0].removeprefix("data: "))
    assert first["object"] == "chat.completion.chunk" and first["model"] == "echo.shout"


async def test_a_pipe_gets_the_open_webui_metadata_of_the_request(functions_env):
    from colonnade import hookimpl

    class Observer:
        __name__ = "observer"

        def __init__(self):
            self.events = []

        @hookimpl
        def on_event(self, host, event):
            self.events.append(event)

    observer = Observer()
    env = await functions_env(plugins=[observer])
    await create(env.client, env.admin, "story", sample("async_pipe"))
    body = {"model": "story", "messages": HELLO, "chat_id": "c-1", "id": "m-2", "session_id": "s-3"}
    response = await env.client.post("/api/chat/completions", json=body, headers=env.user)
    assert response.status_code == 200
    emitted = [event for event in observer.events if event.name == "functions.emitted"]
    assert [(event.chat_id, event.message_id, event.type) for event in emitted] == [("c-1", "m-2", "status")]
    assert emitted[0].data == {"description": "writing", "done": False}


MIXED = """
import json


class Pipe:
    def pipe(self, body):
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "x",
                 "choices": [{"index": 0, "delta": {"content": "dict "}, "finish_reason": None}]}
        yield "text "
        yield b"bytes "
        yield {"type": "status", "data": {"description": "a UI event"}}
        yield chunk
        yield "data: " + json.dumps({**chunk, "choices": [{"index": 0, "delta": {"content": "sse"}}]})
        yield "data: [DONE]"
        yield 42
"""


async def test_what_a_pipe_yields_becomes_chunks(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "mixed", MIXED)
    body = {"model": "mixed", "messages": HELLO}
    response = await env.client.post("/api/chat/completions", json=body, headers=env.user)
    assert (await response.get_json())["choices"][0]["message"]["content"] == "text bytes dict sse42"


async def test_concurrent_streams_through_a_filter_and_a_pipe_stay_apart(functions_env, serve):
    import asyncio

    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    await create(env.client, env.admin, "polite", sample("polite_filter"), is_global=True)
    client = await sdk(serve, env)

    async def ask(number: int) -> str:
        messages = [{"role": "user", "content": f"darn message {number}"}]
        stream = await client.chat.completions.create(model="echo.whisper", messages=messages, stream=True)
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream])

    answers = await asyncio.gather(*(ask(number) for number in range(12)))
    assert answers == [f"d*rn message {number}" for number in range(12)]

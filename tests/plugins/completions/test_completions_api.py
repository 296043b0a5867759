"""``/api/chat/completions`` and ``/api/models`` over real HTTP, with OpenAI's own client library."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest
from completions_helpers import Provider

from colonnade import hookimpl
from colonnade.plugins.completions.providers import CompletionRejected, ProviderError

pytestmark = pytest.mark.asyncio

HELLO = [{"role": "user", "content": "Hi"}]


async def sdk(serve, app, headers, prefix="/api") -> openai.AsyncOpenAI:
    base = await serve(app)
    token = headers["Authorization"].removeprefix("Bearer ")
    return openai.AsyncOpenAI(base_url=f"{base}{prefix}", api_key=token, max_retries=0)


@pytest.mark.parametrize("prefix", ["/api", "/api/v1"])
async def test_non_streaming_completion_through_the_openai_client(
    completions_app, serve, auth_headers, prefix
):
    provider = Provider()
    app = await completions_app(provider)
    client = await sdk(serve, app, await auth_headers(app), prefix)

    answer = await client.chat.completions.create(model="echo-1", messages=HELLO, temperature=0.2)

    assert answer.choices[0].message.content == "Hello from the provider"
    assert answer.usage.total_tokens == 5
    assert provider.requests == [{"model": "echo-1", "messages": HELLO, "temperature": 0.2}]


async def test_streaming_completion_through_the_openai_client(completions_app, serve, auth_headers):
    provider = Provider(reply="one two three")
    app = await completions_app(provider)
    client = await sdk(serve, app, await auth_headers(app))

    stream = await client.chat.completions.create(model="echo-1", messages=HELLO, stream=True)
    pieces = [chunk.choices[0].delta.content async for chunk in stream]

    assert "".join(piece or "" for piece in pieces) == "one two three"
    assert pieces[1:4] == ["one", " two", " three"]


async def test_the_stream_is_server_sent_events_ending_in_done(completions_app, serve, auth_headers):
    app = await completions_app(Provider(reply="a b"))
    base = await serve(app)
    async with httpx.AsyncClient(base_url=base, headers=await auth_headers(app)) as client:
        body = {"model": "echo-1", "messages": HELLO, "stream": True}
        async with client.stream("POST", "/api/chat/completions", json=body) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            raw = (await response.aread()).decode()
    events = [block for block in raw.split("\n\n") if block]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == [None, "a", " b", None]


async def test_a_provider_that_does_not_stream_still_answers_a_stream(completions_app, serve, auth_headers):
    app = await completions_app(Provider(reply="whole", streams=False))
    client = await sdk(serve, app, await auth_headers(app))
    stream = await client.chat.completions.create(model="echo-1", messages=HELLO, stream=True)
    assert [chunk.choices[0].delta.content async for chunk in stream] == ["whole"]


async def test_models_are_merged_over_providers(completions_app, serve, auth_headers):
    app = await completions_app(Provider("one", ["a", "b"]), Provider("two", ["c"]))
    client = await sdk(serve, app, await auth_headers(app))
    assert [m.id for m in (await client.models.list()).data] == ["a", "b", "c"]

    raw = await app.test_client().get("/api/v1/models", headers=await auth_headers(app))
    assert (await raw.get_json())["data"][0] == {
        "id": "a",
        "name": "A",
        "object": "model",
        "created": 1,
        "owned_by": "openai",
    }


async def test_model_lists_are_cached_per_provider_until_refresh(completions_app, auth_headers):
    provider = Provider()
    app = await completions_app(provider, config={"models_cache_ttl": 60})
    client, headers = app.test_client(), await auth_headers(app)
    for _ in range(3):
        assert (await client.get("/api/models", headers=headers)).status_code == 200
    assert provider.list_calls == 1
    await client.get("/api/models?refresh=true", headers=headers)
    assert provider.list_calls == 2


async def test_cached_lists_are_merged_without_waiting_for_the_event_loop(completions_app, auth_headers):
    """Every chat completion merges the lists (twice): from the cache that must cost no turn of the loop,
    which at 16 concurrent streams is worth milliseconds."""
    app = await completions_app(
        Provider(), Provider("other", models=["other-1"]), config={"models_cache_ttl": 60}
    )
    catalogue = app.extensions["colonnade"].state("completions").catalogue
    assert sorted(await catalogue.merged(None)) == ["echo-1", "other-1"]  # fetched, then cached
    merging = catalogue.merged(None).__await__()
    with pytest.raises(StopIteration) as finished:
        merging.send(None)  # the coroutine would yield here if it waited for anything
    assert sorted(finished.value.value) == ["echo-1", "other-1"]


async def test_a_failing_provider_is_left_out_of_the_list(completions_app, auth_headers):
    class Broken(Provider):
        async def list_models(self, actor):
            raise ProviderError(502, "connection refused", "http://127.0.0.1:9")

    app = await completions_app(Provider(), Broken("broken"))
    response = await app.test_client().get("/api/models", headers=await auth_headers(app))
    assert [m["id"] for m in (await response.get_json())["data"]] == ["echo-1"]


async def test_unknown_model_is_404(completions_app, serve, auth_headers):
    app = await completions_app(Provider())
    client = await sdk(serve, app, await auth_headers(app))
    with pytest.raises(openai.NotFoundError) as raised:
        await client.chat.completions.create(model="nope", messages=HELLO)
    assert raised.value.body == {"detail": "Model not found"}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ([], "The request body must be a JSON object"),
        ({"messages": HELLO}, "model: a model id is required"),
        ({"model": "echo-1", "messages": "hi"}, "messages: must be a list of message objects"),
        ({"model": "echo-1", "messages": HELLO, "stream": "yes"}, "stream: must be true or false"),
    ],
)
async def test_bad_bodies_are_400(completions_app, auth_headers, body, detail):
    app = await completions_app(Provider())
    response = await app.test_client().post(
        "/api/chat/completions", json=body, headers=await auth_headers(app)
    )
    assert response.status_code == 400
    assert await response.get_json() == {"detail": detail}


async def test_bodies_a_saved_turn_could_not_store_are_422(completions_app, auth_headers):
    # Too deep for the decoder (a RecursionError), or holding what the chat's storage refuses.
    provider = Provider()
    app = await completions_app(provider)
    headers = {**await auth_headers(app), "Content-Type": "application/json"}
    for raw, detail in (
        (b'{"model": "echo-1", "messages": [], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested"),
        (b'{"model": "echo-1", "messages": [{"role": "user", "content": "a\\u0000"}]}', "NUL"),
        (b'{"model": "echo-1", "messages": [{"role": "user", "content": "a\\ud800"}]}', "surrogate"),
        (b'{"model": "echo-1", "messages": [], "seed": 123456789012345678901234567890}', "64-bit"),
    ):
        response = await app.test_client().post("/api/chat/completions", data=raw, headers=headers)
        assert response.status_code == 422, detail
        assert detail in (await response.get_json())["detail"]
    malformed = await app.test_client().post("/api/chat/completions", data=b"{", headers=headers)
    assert await malformed.get_json() == {"detail": "The request body is not valid JSON"}
    assert provider.requests == []


async def test_credentials_and_roles(completions_app, auth_headers):
    app = await completions_app(Provider())
    client = app.test_client()
    assert (await client.get("/api/models")).status_code == 401
    pending = await auth_headers(app, role="pending")
    assert (await client.post("/api/chat/completions", json={}, headers=pending)).status_code == 403


@pytest.mark.parametrize("status", [502, 504, 429])
async def test_provider_errors_keep_their_status_and_name_the_upstream(
    completions_app, serve, auth_headers, status
):
    app = await completions_app(Provider(fail=ProviderError(status, "upstream said no", "openai[0]")))
    base = await serve(app)
    async with httpx.AsyncClient(base_url=base, headers=await auth_headers(app)) as client:
        for stream in (False, True):
            body = {"model": "echo-1", "messages": HELLO, "stream": stream}
            response = await client.post("/api/chat/completions", json=body)
            assert response.status_code == status
            assert response.json() == {"detail": "openai[0]: upstream said no"}


async def test_a_stream_failing_before_its_first_chunk_keeps_its_status(completions_app, auth_headers):
    class FailsAtOnce(Provider):
        async def _stream(self):
            raise ProviderError(504, "timed out", "ollama[1]")
            yield  # an async generator that fails when first read, as a lazy upstream call does

    app = await completions_app(FailsAtOnce())
    body = {"model": "echo-1", "messages": HELLO, "stream": True}
    response = await app.test_client().post(
        "/api/chat/completions", json=body, headers=await auth_headers(app)
    )
    assert response.status_code == 504
    assert await response.get_json() == {"detail": "ollama[1]: timed out"}


async def test_a_failure_after_the_first_chunk_ends_the_stream_with_an_error_event(
    completions_app, auth_headers
):
    app = await completions_app(Provider(fail_after=(0, ProviderError(502, "reset", "ollama[1]"))))
    body = {"model": "echo-1", "messages": HELLO, "stream": True}
    response = await app.test_client().post(
        "/api/chat/completions", json=body, headers=await auth_headers(app)
    )
    assert response.status_code == 200
    events = (await response.get_data()).decode().split("\n\n")
    assert json.loads(events[1].removeprefix("data: ")) == {
        "error": {"message": "ollama[1]: reset", "type": "upstream_error"}
    }
    assert events[2] == "data: [DONE]"


async def test_a_failure_mid_stream_reaches_the_openai_client(completions_app, serve, auth_headers):
    app = await completions_app(Provider(reply="a b c", fail_after=(2, ProviderError(502, "reset", "up"))))
    client = await sdk(serve, app, await auth_headers(app))
    seen = []
    with pytest.raises(openai.APIError, match="up: reset"):
        async for chunk in await client.chat.completions.create(model="echo-1", messages=HELLO, stream=True):
            seen.append(chunk.choices[0].delta.content)
    assert seen == [None, "a", " b"]


async def test_a_broken_provider_is_a_502_not_a_500(completions_app, auth_headers):
    class Buggy(Provider):
        async def complete(self, request, actor):
            raise KeyError("oops")

    app = await completions_app(Buggy())
    body = {"model": "echo-1", "messages": HELLO}
    response = await app.test_client().post(
        "/api/chat/completions", json=body, headers=await auth_headers(app)
    )
    assert response.status_code == 502
    assert await response.get_json() == {"detail": "LLM provider 'echo' failed: KeyError"}


async def test_a_client_that_goes_away_closes_the_provider_stream(completions_app, serve, auth_headers):
    provider = Provider(reply="a b c", hang_after=1)
    app = await completions_app(provider)
    base = await serve(app)
    async with httpx.AsyncClient(base_url=base, headers=await auth_headers(app)) as client:
        body = {"model": "echo-1", "messages": HELLO, "stream": True}
        async with client.stream("POST", "/api/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if '"a"' in line:
                    break
            assert not provider.closed.is_set()
    # Leaving the block closed the connection mid-stream; the server cancels the provider's iterator.
    await asyncio.wait_for(provider.closed.wait(), timeout=10)


async def test_hook_completion_inlet(completions_app, auth_headers):
    class Inlet:
        __name__ = "inlet"

        @hookimpl
        async def completion_inlet(self, ctx):
            if "forbidden" in ctx.request["messages"][-1]["content"]:
                raise CompletionRejected("Not that topic", status=422)
            ctx.request["messages"].insert(0, {"role": "system", "content": "Be brief."})
            ctx.metadata["seen"] = ctx.metadata.get("chat_id")

    provider = Provider()
    app = await completions_app(provider, plugins=[Inlet()])
    client, headers = app.test_client(), await auth_headers(app)
    body = {"model": "echo-1", "messages": HELLO, "chat_id": "local:abc", "session_id": "s"}
    assert (await client.post("/api/chat/completions", json=body, headers=headers)).status_code == 200
    assert provider.requests[-1] == {
        "model": "echo-1",
        "messages": [{"role": "system", "content": "Be brief."}, *HELLO],
    }

    body = {"model": "echo-1", "messages": [{"role": "user", "content": "something forbidden"}]}
    response = await client.post("/api/chat/completions", json=body, headers=headers)
    assert (response.status_code, await response.get_json()) == (422, {"detail": "Not that topic"})
    assert len(provider.requests) == 1


async def test_request_params_apply_to_the_body(completions_app, auth_headers):
    provider = Provider()
    app = await completions_app(provider)
    body = {"model": "echo-1", "messages": HELLO, "params": {"system": "You are terse.", "temperature": 0.1}}
    await app.test_client().post("/api/chat/completions", json=body, headers=await auth_headers(app))
    assert provider.requests[-1] == {
        "model": "echo-1",
        "messages": [{"role": "system", "content": "You are terse."}, *HELLO],
        "temperature": 0.1,
    }


async def test_hook_completion_stream_wrapper(completions_app, auth_headers):
    outlets = []

    class Shout:
        __name__ = "shout"

        @hookimpl
        def completion_stream_wrapper(self, ctx):
            async def upper(chunks):
                async for chunk in chunks:
                    for choice in chunk["choices"]:
                        if choice["delta"].get("content"):
                            choice["delta"]["content"] = choice["delta"]["content"].upper()
                    yield chunk

            return upper

        @hookimpl
        def completion_outlet(self, ctx, response):
            outlets.append((ctx.stream, response["choices"][0]["message"]["content"]))

    app = await completions_app(Provider(reply="quiet words"), plugins=[Shout()])
    body = {"model": "echo-1", "messages": HELLO, "stream": True}
    response = await app.test_client().post(
        "/api/chat/completions", json=body, headers=await auth_headers(app)
    )
    text = (await response.get_data()).decode()
    assert '"QUIET"' in text and '" WORDS"' in text
    assert outlets == [(True, "QUIET WORDS")]


async def test_hook_completion_outlet(completions_app, auth_headers):
    class Outlet:
        __name__ = "outlet"

        @hookimpl
        async def completion_outlet(self, response):
            response["choices"][0]["message"]["content"] += " [checked]"

    app = await completions_app(Provider(), plugins=[Outlet()])
    body = {"model": "echo-1", "messages": HELLO}
    response = await app.test_client().post(
        "/api/chat/completions", json=body, headers=await auth_headers(app)
    )
    assert (await response.get_json())["choices"][0]["message"][
        "content"
    ] == "Hello from the provider [checked]"


async def test_hook_completion_route_model(completions_app, auth_headers):
    class Router:
        __name__ = "router"

        @hookimpl
        def completion_route_model(self, model_id):
            return "two" if model_id.startswith("two/") else None

    one, two = Provider("one", ["x"]), Provider("two", [])
    app = await completions_app(one, two, plugins=[Router()])
    client, headers = app.test_client(), await auth_headers(app)
    for model_id in ("two/anything", "x"):
        body = {"model": model_id, "messages": HELLO}
        assert (await client.post("/api/chat/completions", json=body, headers=headers)).status_code == 200
    assert [r["model"] for r in two.requests] == ["two/anything"]
    assert [r["model"] for r in one.requests] == ["x"]


async def test_streamed_tool_calls_and_usage_are_reassembled_for_the_outlet(completions_app, auth_headers):
    from completions_helpers import chunk

    class ToolCaller(Provider):
        async def _stream(self):
            call = {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": ""},
            }
            yield chunk(role="assistant", tool_calls=[call])
            for piece in ('{"city"', ': "Oslo"}'):
                yield chunk(tool_calls=[{"index": 0, "function": {"arguments": piece}}])
            last = chunk(finish="tool_calls")
            last["usage"] = {"total_tokens": 9}
            yield last

    seen = []

    class Outlet:
        __name__ = "outlet"

        @hookimpl
        def completion_outlet(self, response):
            seen.append(response)

    app = await completions_app(ToolCaller(), plugins=[Outlet()])
    body = {"model": "echo-1", "messages": HELLO, "stream": True}
    response = await app.test_client().post(
        "/api/chat/completions", json=body, headers=await auth_headers(app)
    )
    await response.get_data()
    [whole] = seen
    assert whole["usage"] == {"total_tokens": 9}
    assert whole["choices"] == [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
        }
    ]

"""Remote Pipelines servers: their pipes and manifolds as models, their filters around targeted models.

The server is the fake Pipelines server (``colonnade.testing.fakes.pipelines``) on loopback.
"""

from __future__ import annotations

import json
import socket

import pytest
import pytest_asyncio
from pipelines_helpers import ask, chat, content_of_stream, json_of, reply_of, sse_events

pytestmark = pytest.mark.asyncio

KEY = "pipelines-secret-key-0123"


@pytest_asyncio.fixture
async def remote(fake_upstream):
    server = await fake_upstream("pipelines")
    server.app.control.api_key = KEY
    return server


def posts(server, path: str) -> list:
    return [sent for sent in server.requests if sent.method == "POST" and sent.path == path]


async def test_remote_models_are_listed_and_answer(served, remote):
    running = await served(servers=[{"url": remote.base_url, "key": KEY}])
    client = running.app.test_client()
    models = {m["id"]: m for m in (await json_of(client, "/api/models", running.admin))["data"]}
    # The filter is not a model.
    assert sorted(models) == ["remote_echo", "remote_manifold.a", "remote_manifold.b"]
    assert models["remote_echo"]["urlIdx"] == 0
    assert models["remote_manifold.b"]["name"] == "Remote: B"
    assert models["remote_echo"]["pipeline"]["type"] == "pipe"

    sdk = running.sdk()
    answer = await sdk.chat.completions.create(**chat("remote_manifold.a", "hi"))
    assert answer.choices[0].message.content == "a: hi"
    [sent] = posts(remote, "/chat/completions")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.json()["user"]["role"] == "admin"
    assert sent.json()["model"] == "remote_manifold.a"

    stream = await sdk.chat.completions.create(
        model="remote_manifold.b", messages=[{"role": "user", "content": "one two"}], stream=True
    )
    pieces = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
    assert [piece for piece in pieces if piece] == ["b: ", "one ", "two"]


async def test_remote_filter_runs_around_its_targets(pipelines_app, remote):
    app, client, admin = await pipelines_app(servers=[{"url": remote.base_url, "key": KEY}])
    response = await client.post("/api/chat/completions", json=chat("remote_echo", "hello"), headers=admin)
    content = (await response.get_json())["choices"][0]["message"]["content"]
    # The inlet changed what the pipe got; the outlet changed the reply.
    assert content == "remote echo: hello [remote inlet] [remote outlet]"
    [inlet] = posts(remote, "/remote_filter/filter/inlet")
    assert inlet.headers["Authorization"] == f"Bearer {KEY}"
    assert inlet.json()["user"]["role"] == "admin"
    assert inlet.json()["body"]["messages"] == [{"role": "user", "content": "hello"}]
    # The model itself is asked last on the way in and first on the way out, as Open WebUI does.
    paths = [sent.path for sent in remote.requests if sent.method == "POST"]
    assert paths == [
        "/remote_filter/filter/inlet",
        "/remote_echo/filter/inlet",
        "/chat/completions",
        "/remote_echo/filter/outlet",
        "/remote_filter/filter/outlet",
    ]
    [outlet] = posts(remote, "/remote_filter/filter/outlet")
    said = {"role": "assistant", "content": "remote echo: hello [remote inlet]"}
    assert outlet.json()["body"]["messages"][-1] == said
    streamed = await ask(client, admin, "remote_echo", "x", stream=True)
    assert content_of_stream(sse_events(await streamed.get_data())) == "remote echo: x [remote inlet]"
    # Not a target: untouched.
    other = await client.post("/api/chat/completions", json=chat("remote_manifold.a", "plain"), headers=admin)
    assert (await other.get_json())["choices"][0]["message"]["content"] == "a: plain"


async def test_hosted_and_remote_filters_run_together_by_priority(pipelines_app, remote, create):
    remote.app.control.pipelines["remote_filter"].valves.update({"pipelines": ["*"], "priority": 5})
    app, client, admin = await pipelines_app(servers=[{"url": remote.base_url, "key": KEY}])
    await create(client, admin, "echo_pipe", is_active=True)
    await create(client, admin, "word_filter", is_active=True, valves={"priority": 1})
    response = await client.post("/api/chat/completions", json=chat("echo_pipe", "darn"), headers=admin)
    # Inlets: hosted (priority 1) then remote (5); outlets in the same order.
    assert (await response.get_json())["choices"][0]["message"]["content"] == (
        "echo: **** [remote inlet] -- filtered [remote outlet]"
    )


async def test_a_refusing_remote_inlet_rejects_the_request(pipelines_app, remote):
    remote.app.control.inlet_error = (403, "Rate limit: try later")
    app, client, admin = await pipelines_app(servers=[{"url": remote.base_url, "key": KEY}])
    response = await client.post("/api/chat/completions", json=chat("remote_echo", "hello"), headers=admin)
    assert response.status_code == 403
    assert (await response.get_json())["detail"] == "Rate limit: try later"
    assert posts(remote, "/chat/completions") == []


async def test_filters_are_skipped_without_a_key(pipelines_app, remote):
    remote.app.control.api_key = None
    app, client, admin = await pipelines_app(servers=[{"url": remote.base_url}])
    response = await client.post("/api/chat/completions", json=chat("remote_echo", "hello"), headers=admin)
    assert (await response.get_json())["choices"][0]["message"]["content"] == "remote echo: hello"
    assert posts(remote, "/remote_filter/filter/inlet") == []


async def test_an_unreachable_server_leaves_the_rest_working(pipelines_app, create):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        app, client, admin = await pipelines_app(servers=[{"url": url, "key": KEY}])
        await create(client, admin, "echo_pipe", is_active=True)
        listed = (await (await client.get("/api/models", headers=admin)).get_json())["data"]
        assert [model["id"] for model in listed] == ["echo_pipe"]
        answer = await ask(client, admin, "echo_pipe", "still here")
        assert await reply_of(answer) == "echo: still here"
        missing = await client.get("/api/v1/pipelines/?urlIdx=0", headers=admin)
        assert missing.status_code == 404
        assert (await missing.get_json())["detail"] == "Pipeline not found"


async def test_the_key_is_never_shown(pipelines_app, remote):
    app, client, admin = await pipelines_app(servers=[{"url": remote.base_url, "key": KEY}])
    for path in ("/api/v1/pipelines/list", "/api/models", "/api/plugins", "/api/v1/pipelines/?urlIdx=0"):
        response = await client.get(path, headers=admin)
        assert KEY not in json.dumps(await response.get_json()), path


async def test_a_failing_server_is_a_json_error(pipelines_app, remote):
    app, client, admin = await pipelines_app(servers=[{"url": remote.base_url, "key": KEY}])
    remote.app.control.chat_error = (500, "the pipe crashed")
    for stream in (False, True):
        response = await ask(client, admin, "remote_manifold.a", "hello", stream=stream)
        assert response.status_code == 502
        assert (await response.get_json())["detail"] == "pipelines: the pipe crashed"
    remote.app.control.chat_error = (422, "messages: field required")
    response = await ask(client, admin, "remote_manifold.a", "hello")
    assert response.status_code == 422

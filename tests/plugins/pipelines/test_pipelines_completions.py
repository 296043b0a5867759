"""Hosted pipelines answering /api/chat/completions: pipes and manifolds as models, filters around them."""

from __future__ import annotations

import pytest
from pipelines_helpers import ask, chat, content_of_stream, json_of, reply_of, sse_events

pytestmark = pytest.mark.asyncio


async def test_pipe_and_manifold_models_are_listed_once_active(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe")
    await create(client, admin, "model_manifold")
    await create(client, admin, "word_filter")
    listed = await (await client.get("/api/models", headers=admin)).get_json()
    assert listed["data"] == []
    for name in ("echo_pipe", "model_manifold", "word_filter"):
        response = await client.post(f"/api/pipelines/{name}/activate", headers=admin)
        assert response.status_code == 200 and (await response.get_json())["is_active"] is True
    models = {model["id"]: model for model in (await json_of(client, "/api/models", admin))["data"]}
    # Filters are not models.
    assert sorted(models) == ["echo_pipe", "model_manifold.loud", "model_manifold.quiet"]
    assert models["echo_pipe"]["name"] == "Echo Pipe"
    assert models["echo_pipe"]["pipeline"]["type"] == "pipe"
    assert models["model_manifold.loud"]["name"] == "Manifold: Loud"
    await client.post("/api/pipelines/model_manifold/deactivate", headers=admin)
    models = (await (await client.get("/api/models", headers=admin)).get_json())["data"]
    assert [model["id"] for model in models] == ["echo_pipe"]


async def test_pipe_streams_through_the_openai_client(served, create):
    running = await served()
    client = running.app.test_client()
    await create(client, running.admin, "echo_pipe", is_active=True)
    sdk = running.sdk()
    answer = await sdk.chat.completions.create(**chat("echo_pipe", "hello there"))
    assert answer.choices[0].message.content == "echo: hello there"
    stream = await sdk.chat.completions.create(
        model="echo_pipe", messages=[{"role": "user", "content": "one two three"}], stream=True
    )
    pieces = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
    assert [piece for piece in pieces if piece] == ["echo: ", "one ", "two ", "three "]
    assert pieces[-1] is None
    listed = [model.id async for model in sdk.models.list()]
    assert listed == ["echo_pipe"]


async def test_manifold_sub_pipes_answer_by_id(served, create):
    running = await served()
    client = running.app.test_client()
    await create(client, running.admin, "model_manifold", is_active=True)
    sdk = running.sdk()
    loud = await sdk.chat.completions.create(**chat("model_manifold.loud", "World"))
    assert loud.choices[0].message.content == "HELLO, WORLD"
    stream = await sdk.chat.completions.create(
        model="model_manifold.quiet", messages=[{"role": "user", "content": "World"}], stream=True
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == "hello, world "
    unknown = await ask(client, running.admin, "model_manifold.shouting", "x")
    assert unknown.status_code == 404


async def test_filter_runs_around_its_targets_only(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe", is_active=True)
    await create(client, admin, "model_manifold", is_active=True)
    await create(client, admin, "word_filter", is_active=True)
    response = await client.post("/api/chat/completions", json=chat("echo_pipe", "darn it"), headers=admin)
    assert response.status_code == 200
    # The inlet replaced the word before the pipe saw it; the outlet signed the reply.
    assert (await response.get_json())["choices"][0]["message"]["content"] == "echo: **** it -- filtered"
    streamed = await ask(client, admin, "echo_pipe", "darn", stream=True)
    events = sse_events(await streamed.get_data())
    assert content_of_stream(events) == "echo: **** "
    assert events[-1] == "[DONE]"
    refused = await ask(client, admin, "echo_pipe", "our secret plans")
    assert refused.status_code == 400
    assert (await refused.get_json())["detail"] == "I cannot talk about secret plans"
    # The manifold is not a target of the filter.
    untouched = await ask(client, admin, "model_manifold.quiet", "darn")
    assert await reply_of(untouched) == "hello, darn"


async def test_filters_run_by_priority_and_targets_come_from_valves(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe", is_active=True)
    valves = {"pipelines": ["*"], "priority": 2, "signature": " [second]"}
    await create(client, admin, "word_filter", is_active=True, valves=valves)
    first = {"id": "first_filter"}
    copy = await client.post("/api/pipelines/word_filter/duplicate", json=first, headers=admin)
    assert copy.status_code == 201
    valves = {"priority": 1, "signature": " [first]", "banned": ["it"]}
    updated = await client.post("/api/pipelines/first_filter/valves/update", json=valves, headers=admin)
    assert updated.status_code == 200
    assert (await updated.get_json())["priority"] == 1
    await client.post("/api/pipelines/first_filter/activate", headers=admin)
    response = await client.post("/api/chat/completions", json=chat("echo_pipe", "darn it"), headers=admin)
    # Inlets in ascending priority: the first filter starred "it" before the second starred "darn";
    # outlets in the same order: [first] then [second].
    assert (await response.get_json())["choices"][0]["message"]["content"] == "echo: **** ** [first] [second]"


async def test_users_reach_pipelines_only_through_the_model_list(pipelines_app, auth_headers, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe", is_active=True)
    user = await auth_headers(app, role="user")
    # Without the models plugin there are no access grants: every signed-in user may use every model.
    response = await client.post("/api/chat/completions", json=chat("echo_pipe", "hi"), headers=user)
    assert (await response.get_json())["choices"][0]["message"]["content"] == "echo: hi"


async def test_a_pipe_with_its_own_inlet_and_outlet(pipelines_app):
    app, client, admin = await pipelines_app()
    source = (
        "class Pipeline:\n"
        "    def __init__(self):\n        self.name = 'Framed'\n"
        "    async def inlet(self, body, user=None):\n"
        "        body['messages'].insert(0, {'role': 'system', 'content': 'be brief'})\n        return body\n"
        "    async def outlet(self, body, user=None):\n"
        "        body['messages'][-1]['content'] += ' [framed]'\n        return body\n"
        "    def pipe(self, user_message, model_id, messages, body):\n"
        "        return ' | '.join(message['role'] for message in messages)\n"
    )
    body = {"id": "framed", "content": source, "is_active": True}
    created = await client.post("/api/pipelines", json=body, headers=admin)
    assert created.status_code == 201
    response = await client.post("/api/chat/completions", json=chat("framed", "hi"), headers=admin)
    assert (await response.get_json())["choices"][0]["message"]["content"] == "system | user [framed]"

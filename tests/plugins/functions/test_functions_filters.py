"""Filter functions around completions: inlet, stream and outlet, global or toggled, in priority order."""

from __future__ import annotations

import openai
import pytest
from functions_helpers import HELLO, Recorder, RecorderPlugin, create, sample, tagging_filter

pytestmark = pytest.mark.asyncio


async def filtered_env(functions_env, reply="Hello darn world", **kwargs):
    recorder = Recorder(reply)
    env = await functions_env(plugins=[RecorderPlugin(recorder)], **kwargs)
    return env, recorder


async def sdk(serve, env, headers=None) -> openai.AsyncOpenAI:
    base = await serve(env.app)
    token = (headers or env.user)["Authorization"].removeprefix("Bearer ")
    return openai.AsyncOpenAI(base_url=f"{base}/api", api_key=token, max_retries=0)


async def test_a_global_filter_edits_inlet_and_outlet_through_the_openai_client(functions_env, serve):
    env, recorder = await filtered_env(functions_env)
    await create(env.client, env.admin, "polite", sample("polite_filter"), is_global=True)
    client = await sdk(serve, env)

    answer = await client.chat.completions.create(model="rec-1", messages=HELLO)

    sent = recorder.requests[-1]["messages"]
    assert sent[0]["role"] == "system"
    assert sent[0]["content"].startswith("Be polite. You talk to user-")
    assert sent[0]["content"].endswith("in no chat.")
    assert sent[1:] == HELLO
    assert "metadata" not in recorder.requests[-1]
    assert answer.choices[0].message.content == "Hello d*rn world [checked]"


async def test_a_global_filter_edits_the_stream_chunk_by_chunk(functions_env, serve):
    env, recorder = await filtered_env(functions_env)
    await create(env.client, env.admin, "polite", sample("polite_filter"), is_global=True)
    client = await sdk(serve, env)

    stream = await client.chat.completions.create(model="rec-1", messages=HELLO, stream=True)
    pieces = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices[0].delta.content]

    assert pieces == ["Hello", " d*rn", " world"]
    assert recorder.requests[-1]["messages"][0]["role"] == "system"


async def test_a_filter_that_is_neither_global_nor_attached_does_not_run(functions_env):
    env, recorder = await filtered_env(functions_env)
    await create(env.client, env.admin, "polite", sample("polite_filter"))
    response = await env.client.post(
        "/api/chat/completions", json={"model": "rec-1", "messages": HELLO}, headers=env.user
    )
    assert (await response.get_json())["choices"][0]["message"]["content"] == "Hello darn world"
    assert recorder.requests[-1]["messages"] == HELLO


async def test_filters_run_in_ascending_priority(functions_env):
    env, recorder = await filtered_env(functions_env)
    await create(env.client, env.admin, "late", tagging_filter("late", 5), is_global=True)
    await create(env.client, env.admin, "early", tagging_filter("early", -1), is_global=True)
    await create(env.client, env.admin, "middle", tagging_filter("middle", 2), is_global=True)
    await env.client.post(
        "/api/chat/completions", json={"model": "rec-1", "messages": HELLO}, headers=env.user
    )
    assert recorder.requests[-1]["messages"][0]["content"] == "early middle late"

    # A valves change re-orders them on the next request.
    await env.client.post("/api/functions/early/valves", json={"priority": 9}, headers=env.admin)
    await env.client.post(
        "/api/chat/completions", json={"model": "rec-1", "messages": HELLO}, headers=env.user
    )
    assert recorder.requests[-1]["messages"][0]["content"] == "middle late early"


async def test_a_toggle_filter_runs_only_when_the_request_names_it(functions_env):
    env, recorder = await filtered_env(functions_env)
    created = await create(
        env.client, env.admin, "optin", tagging_filter("opted", 0, toggle=True), is_global=True
    )
    assert created["meta"]["toggle"] is True
    body = {"model": "rec-1", "messages": HELLO}
    await env.client.post("/api/chat/completions", json=body, headers=env.user)
    assert recorder.requests[-1]["messages"] == HELLO
    await env.client.post("/api/chat/completions", json={**body, "filter_ids": ["optin"]}, headers=env.user)
    assert recorder.requests[-1]["messages"][0] == {"role": "system", "content": "opted"}


async def test_an_inlet_that_raises_rejects_the_completion_with_its_message(functions_env, serve):
    env, recorder = await filtered_env(functions_env)
    await create(env.client, env.admin, "polite", sample("polite_filter"), is_global=True)
    await env.client.post(
        "/api/v1/functions/id/polite/valves/update", json={"max_messages": 1}, headers=env.admin
    )
    client = await sdk(serve, env)
    two = [*HELLO, {"role": "assistant", "content": "Hi"}, {"role": "user", "content": "again"}]
    with pytest.raises(openai.BadRequestError) as raised:
        await client.chat.completions.create(model="rec-1", messages=two)
    assert raised.value.response.json() == {"detail": "Conversation too long: at most 1 messages"}
    assert recorder.requests == []
    answer = await client.chat.completions.create(model="rec-1", messages=HELLO)
    assert answer.choices[0].message.content.endswith("[checked]")


async def test_deactivating_a_filter_unregisters_it_at_once(functions_env):
    env, _ = await filtered_env(functions_env)
    await create(env.client, env.admin, "polite", sample("polite_filter"), is_global=True)
    assert env.host.pm.has_plugin("function:polite") and env.host.pm.has_plugin("function:polite:stream")
    await env.client.post("/api/functions/polite/toggle", headers=env.admin)
    assert not env.host.pm.has_plugin("function:polite")
    response = await env.client.post(
        "/api/chat/completions", json={"model": "rec-1", "messages": HELLO}, headers=env.user
    )
    assert (await response.get_json())["choices"][0]["message"]["content"] == "Hello darn world"
    await env.client.post("/api/functions/polite/toggle", headers=env.admin)
    await env.client.delete("/api/functions/polite", headers=env.admin)
    assert not env.host.pm.has_plugin("function:polite")


async def test_user_valves_reach_the_filter_as_an_instance(functions_env):
    env, _ = await filtered_env(functions_env)
    await create(env.client, env.admin, "polite", sample("polite_filter"), is_global=True)
    spec = await (
        await env.client.get("/api/v1/functions/id/polite/valves/user/spec", headers=env.user)
    ).get_json()
    assert spec["properties"]["signature"]["default"] == ""
    response = await env.client.post(
        "/api/v1/functions/id/polite/valves/user/update", json={"signature": "-- Ann"}, headers=env.user
    )
    assert await response.get_json() == {"signature": "-- Ann"}
    assert await (
        await env.client.get("/api/v1/functions/id/polite/valves/user", headers=env.user)
    ).get_json() == {"signature": "-- Ann"}
    response = await env.client.post(
        "/api/chat/completions", json={"model": "rec-1", "messages": HELLO}, headers=env.user
    )
    assert (await response.get_json())["choices"][0]["message"][
        "content"
    ] == "Hello d*rn world [checked] -- Ann"
    response = await env.client.post(
        "/api/chat/completions", json={"model": "rec-1", "messages": HELLO}, headers=env.admin
    )
    assert (await response.get_json())["choices"][0]["message"]["content"] == "Hello d*rn world [checked]"


async def test_a_filter_attached_to_a_workspace_model_runs_for_that_model_only(functions_env):
    env, recorder = await filtered_env(functions_env, load_plugins=["models"])
    await create(env.client, env.admin, "polite", sample("polite_filter"))
    body = {
        "id": "polite-bot",
        "base_model_id": "rec-1",
        "name": "Polite bot",
        "meta": {"filterIds": ["polite"]},
        "access_control": None,
    }
    response = await env.client.post("/api/models", json=body, headers=env.admin)
    assert response.status_code == 200, await response.get_data()

    response = await env.client.post(
        "/api/chat/completions", json={"model": "polite-bot", "messages": HELLO}, headers=env.user
    )
    assert (await response.get_json())["choices"][0]["message"]["content"] == "Hello d*rn world [checked]"
    assert recorder.requests[-1]["messages"][0]["role"] == "system"
    response = await env.client.post(
        "/api/chat/completions", json={"model": "rec-1", "messages": HELLO}, headers=env.admin
    )
    assert (await response.get_json())["choices"][0]["message"]["content"] == "Hello darn world"
    assert recorder.requests[-1]["messages"] == HELLO


async def test_request_hooks_run_after_every_inlet(functions_env):
    env, recorder = await filtered_env(functions_env)
    source = (
        "class Filter:\n"
        "    def inlet(self, body):\n"
        "        body['messages'].insert(0, {'role': 'system', 'content': 'A'})\n"
        "        return body\n"
        "    async def request(self, body, __metadata__=None):\n"
        "        body['messages'][0]['content'] += ' B ' + __metadata__['user_id'][:0]\n"
        "        return body\n"
    )
    await create(env.client, env.admin, "both", source, is_global=True)
    await create(env.client, env.admin, "after", tagging_filter("C", 3), is_global=True)
    await env.client.post(
        "/api/chat/completions", json={"model": "rec-1", "messages": HELLO}, headers=env.user
    )
    assert recorder.requests[-1]["messages"][0]["content"] == "A C B "


async def test_a_stream_filter_past_its_timeout_is_skipped_for_the_rest_of_the_stream(functions_env):
    env, _ = await filtered_env(functions_env, config={"timeout_seconds": 1})
    source = (
        "import threading\n\nGATE = threading.Event()\n\n"
        "class Filter:\n"
        "    def stream(self, event):\n"
        "        GATE.wait()\n"
        "        return None\n"
    )
    await create(env.client, env.admin, "stuck", source, is_global=True)
    try:
        body = {"model": "rec-1", "messages": HELLO, "stream": True}
        response = await env.client.post("/api/chat/completions", json=body, headers=env.user)
        data = await response.get_data()
        assert response.status_code == 200
        assert b'"content":" darn"' in data and data.endswith(b"data: [DONE]\n\n")
    finally:
        env.registry.live["stuck"].loaded.module.GATE.set()

"""Actions and ``/api/functions/:id/execute``: running a function directly, saying what ran."""

from __future__ import annotations

import json

import httpx
import pytest
from functions_helpers import HELLO, create, sample

from colonnade import hookimpl

pytestmark = pytest.mark.asyncio


class Observer:
    """Records the events the host emits."""

    __name__ = "event_observer"

    def __init__(self) -> None:
        self.events = []

    @hookimpl
    def on_event(self, host, event):
        self.events.append(event)


ACTION_BODY = {
    "model": "rec-1",
    "messages": [*HELLO],
    "id": "msg-1",
    "chat_id": "chat-1",
    "session_id": "s-1",
}


@pytest.mark.parametrize("prefix", ["/api", "/api/v1"])
async def test_an_action_runs_through_open_webui_chat_actions_route(functions_env, prefix):
    observer = Observer()
    env = await functions_env(plugins=[observer])
    await create(env.client, env.admin, "count", sample("word_count_action"))
    response = await env.client.post(f"{prefix}/chat/actions/count", json=ACTION_BODY, headers=env.user)
    assert response.status_code == 200
    result = await response.get_json()
    assert result["words"] == 3 and result["model"] == "rec-1" and result["id"] == "count"
    assert result["user"].startswith("user-") and result["confirmed"] is None
    emitted = [event for event in observer.events if event.name == "functions.emitted"]
    assert [(event.type, event.chat_id, event.message_id) for event in emitted] == [
        ("status", "chat-1", "msg-1"),
        ("message", "chat-1", "msg-1"),
        ("status", "chat-1", "msg-1"),
    ]
    assert emitted[1].data == {"content": "\n\n3 words"}
    assert emitted[0].function_id == "count"


async def test_a_sub_action_gets_its_own_id(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "count", sample("word_count_action"))
    response = await env.client.post("/api/chat/actions/count.short", json=ACTION_BODY, headers=env.user)
    assert (await response.get_json())["id"] == "short"


async def test_an_inactive_or_unknown_action_is_not_available(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "count", sample("word_count_action"), active=False)
    for action_id in ("count", "nothing"):
        response = await env.client.post(f"/api/chat/actions/{action_id}", json=ACTION_BODY, headers=env.user)
        assert response.status_code == 400
        assert (await response.get_json()) == {"detail": f"Action not available: {action_id}"}


async def test_an_action_that_raises_is_a_400_with_its_error(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "count", sample("word_count_action"))
    response = await env.client.post("/api/chat/actions/count", json={"messages": []}, headers=env.user)
    assert response.status_code == 400
    detail = (await response.get_json())["detail"]
    lines = sample("word_count_action").splitlines()
    line = next(number for number, text in enumerate(lines, 1) if 'body["messages"][-1]' in text)
    assert detail == f"Function count failed: IndexError on line {line}: list index out of range"


async def test_execute_an_action_says_what_ran_and_what_it_emitted(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "count", sample("word_count_action"), active=False)
    response = await env.client.post(
        "/api/functions/count/execute", json={"body": {"messages": HELLO}}, headers=env.admin
    )
    assert response.status_code == 200
    ran = await response.get_json()
    assert ran["id"] == "count" and ran["type"] == "action" and ran["ran"] == "action"
    assert ran["result"]["words"] == 3
    assert [event["type"] for event in ran["events"]] == ["status", "confirmation", "message", "status"]
    assert ran["events"][1]["awaits_answer"] is True


async def test_execute_a_filter_inlet_and_outlet(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "polite", sample("polite_filter"))
    response = await env.client.post(
        "/api/v1/functions/id/polite/execute", json={"body": {"messages": HELLO}}, headers=env.admin
    )
    ran = await response.get_json()
    assert ran["ran"] == "inlet" and ran["type"] == "filter"
    assert ran["result"]["messages"][0]["role"] == "system"
    body = {"hook": "outlet", "body": {"messages": [*HELLO, {"role": "assistant", "content": "darn"}]}}
    ran = await (
        await env.client.post("/api/functions/polite/execute", json=body, headers=env.admin)
    ).get_json()
    assert ran["ran"] == "outlet"
    assert ran["result"]["messages"][-1]["content"] == "d*rn [checked]"
    response = await env.client.post(
        "/api/functions/polite/execute", json={"hook": "pipe", "body": {}}, headers=env.admin
    )
    assert response.status_code == 400
    assert (await response.get_json())["detail"] == "hook: a filter runs inlet or outlet"


async def test_execute_a_pipe_whole_and_streaming(functions_env, serve):
    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"), active=False)
    body = {"body": {"model": "echo.shout", "messages": HELLO}}
    ran = await (
        await env.client.post("/api/functions/echo/execute", json=body, headers=env.admin)
    ).get_json()
    assert ran["ran"] == "pipe"
    assert ran["result"]["choices"][0]["message"]["content"] == "HELLO DARN WORLD"

    base = await serve(env.app)
    async with httpx.AsyncClient(base_url=base, headers=env.admin) as client:
        body["body"]["stream"] = True
        async with client.stream("POST", "/api/functions/echo/execute", json=body) as response:
            assert response.headers["x-function-ran"] == "pipe"
            lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    pieces = [json.loads(line[6:])["choices"][0]["delta"].get("content") for line in lines[:-1]]
    assert "".join(piece or "" for piece in pieces) == "HELLO DARN WORLD"


async def test_execute_bad_bodies_are_400(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "count", sample("word_count_action"))
    for payload in ({"body": []}, [1, 2]):
        response = await env.client.post("/api/functions/count/execute", json=payload, headers=env.admin)
        assert response.status_code == 400
    response = await env.client.post("/api/functions/nothing/execute", json={"body": {}}, headers=env.admin)
    assert response.status_code == 404


MULTI_ACTION = """
class Action:
    actions = [{"id": "short", "name": "Short summary", "icon_url": "data:image/svg+xml;base64,AA=="},
               {"id": "long", "name": "Long summary"}]

    def action(self, body, __id__=None):
        return {"ran": __id__}
"""


async def test_models_list_their_action_buttons_and_filter_switches(functions_env):
    from functions_helpers import Recorder, RecorderPlugin, tagging_filter

    env = await functions_env(plugins=[RecorderPlugin(Recorder())], load_plugins=["models"])
    await create(env.client, env.admin, "count", sample("word_count_action"), is_global=True)
    await create(env.client, env.admin, "summary", MULTI_ACTION)
    await create(env.client, env.admin, "optin", tagging_filter("opted", 0, toggle=True))
    await create(env.client, env.admin, "always", tagging_filter("always", 0), is_global=True)
    body = {
        "id": "helper",
        "base_model_id": "rec-1",
        "name": "Helper",
        "access_control": None,
        "meta": {"actionIds": ["summary"], "filterIds": ["optin"]},
    }
    assert (await env.client.post("/api/models", json=body, headers=env.admin)).status_code == 200

    # Admins see base models too; users see only the workspace models shared with them.
    listed = await (await env.client.get("/api/models", headers=env.admin)).get_json()
    models = {entry["id"]: entry for entry in listed["data"]}
    assert [button["id"] for button in models["rec-1"]["actions"]] == ["count"]
    assert models["rec-1"]["filters"] == []
    assert [(b["id"], b["name"]) for b in models["helper"]["actions"]] == [
        ("count", "Count"),
        ("summary.short", "Short summary"),
        ("summary.long", "Long summary"),
    ]
    assert models["helper"]["actions"][1]["icon"] == "data:image/svg+xml;base64,AA=="
    assert models["helper"]["actions"][0]["description"] == "count for the tests"
    assert models["helper"]["filters"] == [
        {"id": "optin", "name": "Optin", "description": "optin for the tests", "icon": None}
    ]
    response = await env.client.post("/api/chat/actions/summary.long", json=ACTION_BODY, headers=env.user)
    assert await response.get_json() == {"ran": "long"}


async def test_an_event_function_observes_the_host_events(functions_env):
    import asyncio

    env = await functions_env(load_plugins=["chats"])
    created = await create(env.client, env.admin, "watcher", sample("chat_watcher"))
    assert created["type"] == "event"
    module = env.registry.live["watcher"].loaded.module
    response = await env.client.post("/api/chats", json={"chat": {"title": "Hi"}}, headers=env.user)
    chat_id = (await response.get_json())["id"]
    assert await asyncio.to_thread(module.GOT_ONE.wait, 10)
    assert module.SEEN[0] == ("watcher", "chats.created", chat_id, "user")

    ran = await (
        await env.client.post(
            "/api/functions/watcher/execute",
            json={"body": {"name": "chats.deleted", "data": {"chat_id": "c"}, "user": None}},
            headers=env.admin,
        )
    ).get_json()
    assert ran["ran"] == "event" and ran["type"] == "event"
    assert module.SEEN[-1] == ("watcher", "", "c", None)

    await env.client.post("/api/functions/watcher/toggle", headers=env.admin)
    assert not env.host.pm.has_plugin("function:watcher")

"""Saving a completion's turn into the caller's chat (only with the chats plugin, only the caller's chat)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from completions_helpers import Provider

from colonnade import hookimpl
from colonnade.plugins.completions.providers import ProviderError

pytestmark = pytest.mark.asyncio

HELLO = [{"role": "user", "content": "Hi"}]


async def new_chat(client, headers) -> dict:
    response = await client.post("/api/chats", json={"chat": {"title": "T"}}, headers=headers)
    assert response.status_code == 201
    return await response.get_json()


async def history(client, headers, chat_id) -> tuple[str, dict]:
    chat = await (await client.get(f"/api/chats/{chat_id}", headers=headers)).get_json()
    return chat["chat"]["history"]["currentId"], chat["chat"]["history"]["messages"]


@pytest.mark.parametrize("stream", [False, True])
async def test_the_turn_is_saved_into_the_callers_chat(completions_app, auth_headers, stream):
    app = await completions_app(Provider(reply="Hello there"), load_plugins=["chats"])
    client, headers = app.test_client(), await auth_headers(app)
    chat = await new_chat(client, headers)

    body = {"model": "echo-1", "messages": HELLO, "chat_id": chat["id"], "id": "a1", "stream": stream}
    response = await client.post("/api/chat/completions", json=body, headers=headers)
    assert response.status_code == 200
    await response.get_data()

    current, messages = await history(client, headers, chat["id"])
    assert current == "a1"
    reply = messages["a1"]
    assert (reply["role"], reply["content"], reply["done"], reply["model"]) == (
        "assistant",
        "Hello there",
        True,
        "echo-1",
    )
    question = messages[reply["parentId"]]
    assert (question["role"], question["content"], question["childrenIds"]) == ("user", "Hi", ["a1"])
    if not stream:
        assert reply["usage"] == {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}


async def test_a_given_user_message_is_used_and_not_duplicated(completions_app, auth_headers):
    app = await completions_app(Provider(reply="Yes"), load_plugins=["chats"])
    client, headers = app.test_client(), await auth_headers(app)
    chat = await new_chat(client, headers)
    user_message = {"id": "u1", "parentId": None, "role": "user", "content": "Hi", "models": ["echo-1"]}
    body = {
        "model": "echo-1",
        "messages": HELLO,
        "chat_id": chat["id"],
        "id": "a1",
        "user_message": user_message,
    }
    assert (await client.post("/api/chat/completions", json=body, headers=headers)).status_code == 200
    # A regeneration names the same user message and a new reply id.
    body = {**body, "id": "a2"}
    assert (await client.post("/api/chat/completions", json=body, headers=headers)).status_code == 200

    current, messages = await history(client, headers, chat["id"])
    assert current == "a2"
    assert sorted(messages) == ["a1", "a2", "u1"]
    assert messages["u1"]["childrenIds"] == ["a1", "a2"]


async def test_a_provider_failure_is_saved_on_the_reply(completions_app, auth_headers):
    app = await completions_app(
        Provider(fail=ProviderError(502, "down", "openai[0]")), load_plugins=["chats"]
    )
    client, headers = app.test_client(), await auth_headers(app)
    chat = await new_chat(client, headers)
    body = {"model": "echo-1", "messages": HELLO, "chat_id": chat["id"], "id": "a1"}
    assert (await client.post("/api/chat/completions", json=body, headers=headers)).status_code == 502
    _, messages = await history(client, headers, chat["id"])
    assert messages["a1"]["error"] == {"content": "openai[0]: down"}
    assert messages["a1"]["done"] is True


class Saved:
    """Sets ``done`` when the completions plugin says it updated a message (``chats.message_updated``)."""

    __name__ = "saved"

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.events: list[tuple[str, str]] = []

    @hookimpl
    def on_event(self, event):
        if event.name.startswith("chats.message_"):
            self.events.append((event.name, event.message_id))
        if event.name == "chats.message_updated":
            self.done.set()


async def test_an_interrupted_stream_keeps_what_was_said(completions_app, serve, auth_headers):
    provider, saved = Provider(reply="a b c", hang_after=1), Saved()
    app = await completions_app(provider, load_plugins=["chats"], plugins=[saved])
    headers = await auth_headers(app)
    chat = await new_chat(app.test_client(), headers)
    async with httpx.AsyncClient(base_url=await serve(app), headers=headers) as client:
        body = {"model": "echo-1", "messages": HELLO, "stream": True, "chat_id": chat["id"], "id": "a1"}
        async with client.stream("POST", "/api/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if '"a"' in line:
                    break
    await asyncio.wait_for(provider.closed.wait(), timeout=10)
    await asyncio.wait_for(saved.done.wait(), timeout=10)
    _, messages = await history(app.test_client(), headers, chat["id"])
    user_id = messages["a1"]["parentId"]
    assert saved.events == [
        ("chats.message_created", user_id),
        ("chats.message_created", "a1"),
        ("chats.message_updated", "a1"),
    ]
    assert messages["a1"]["done"] is True
    assert messages["a1"]["content"] == "a"
    assert messages["a1"]["error"] == {"content": "The response was interrupted"}


async def test_another_users_chat_is_404_and_untouched(completions_app, auth_headers):
    provider = Provider()
    app = await completions_app(provider, load_plugins=["chats"])
    client = app.test_client()
    owner, other = await auth_headers(app), await auth_headers(app)
    chat = await new_chat(client, owner)
    body = {"model": "echo-1", "messages": HELLO, "chat_id": chat["id"]}
    response = await client.post("/api/chat/completions", json=body, headers=other)
    assert (response.status_code, await response.get_json()) == (404, {"detail": "Chat not found"})
    assert provider.requests == []
    _, messages = await history(client, owner, chat["id"])
    assert messages == {}


async def test_without_the_chats_plugin_chat_id_is_ignored(completions_app, auth_headers):
    provider = Provider()
    app = await completions_app(provider)
    body = {"model": "echo-1", "messages": HELLO, "chat_id": "whatever", "id": "a1"}
    response = await app.test_client().post(
        "/api/chat/completions", json=body, headers=await auth_headers(app)
    )
    assert response.status_code == 200
    assert provider.requests == [{"model": "echo-1", "messages": HELLO}]


async def test_temporary_chats_are_not_saved(completions_app, auth_headers):
    app = await completions_app(Provider(), load_plugins=["chats"])
    body = {"model": "echo-1", "messages": HELLO, "chat_id": "local:abc"}
    response = await app.test_client().post(
        "/api/chat/completions", json=body, headers=await auth_headers(app)
    )
    assert response.status_code == 200


async def test_the_chat_keeps_what_the_user_said_not_what_the_inlets_added(completions_app, auth_headers):
    class AddContext:
        __name__ = "add_context"

        @hookimpl
        def completion_inlet(self, ctx):
            ctx.request["messages"][-1]["content"] += "\n\nContext: the manual says 42."

    provider = Provider()
    app = await completions_app(provider, load_plugins=["chats"], plugins=[AddContext()])
    client, headers = app.test_client(), await auth_headers(app)
    chat = await new_chat(client, headers)
    body = {
        "model": "echo-1",
        "messages": [{"role": "user", "content": "Hi"}],
        "chat_id": chat["id"],
        "id": "a1",
    }
    assert (await client.post("/api/chat/completions", json=body, headers=headers)).status_code == 200
    assert provider.requests[-1]["messages"][-1]["content"].endswith("42.")
    _, messages = await history(client, headers, chat["id"])
    assert messages[messages["a1"]["parentId"]]["content"] == "Hi"

"""The events the chats plugin emits, seen by an ``on_event`` observer plugin."""

from __future__ import annotations

import pytest

from colonnade.hookspecs import hookimpl

pytestmark = pytest.mark.asyncio


class Recorder:
    """A test plugin recording every event it observes."""

    __name__ = "recorder"

    def __init__(self) -> None:
        self.events: list = []

    @hookimpl
    def on_event(self, event):
        self.events.append(event)


async def test_chat_and_message_events(make_app, auth_headers):
    recorder = Recorder()
    app = await make_app(plugins=[recorder], load_plugins=["chats"])
    client, headers = app.test_client(), await auth_headers(app)
    chat = await (await client.post("/api/chats", json={"chat": {}}, headers=headers)).get_json()
    base = f"/api/chats/{chat['id']}"
    await client.post(f"{base}/messages", json={"id": "m1", "content": "hi"}, headers=headers)
    await client.post(f"{base}/messages/m1", json={"content": "hello"}, headers=headers)
    pushed = await client.post(
        f"{base}/messages/m1/event", json={"type": "status", "data": {"done": False}}, headers=headers
    )
    assert await pushed.get_json() is True
    await client.post(f"{base}/archive", headers=headers)
    await client.delete(f"{base}/messages/m1", headers=headers)
    await client.delete(base, headers=headers)
    names = [event.name for event in recorder.events if event.name.startswith("chats.")]
    assert names == [
        "chats.created",
        "chats.message_created",
        "chats.message_updated",
        "chats.message_event",
        "chats.updated",
        "chats.messages_deleted",
        "chats.deleted",
    ]
    pushed_event = recorder.events[[e.name for e in recorder.events].index("chats.message_event")]
    assert (pushed_event.message_id, pushed_event.type, pushed_event.data) == (
        "m1",
        "status",
        {"done": False},
    )
    assert all(
        event.chat_id == chat["id"] and event.user_id == chat["user_id"]
        for event in recorder.events
        if event.name.startswith("chats.")
    )


async def test_message_events_need_an_existing_message_and_a_valid_body(chats):
    chat = await chats.create()
    url = f"/api/v1/chats/{chat['id']}/messages"
    assert (
        await chats.client.post(f"{url}/nope/event", json={"type": "x"}, headers=chats.headers)
    ).status_code == 404
    await chats.append(chat["id"], id="m1", content="x")
    for body in ({}, {"type": ""}, {"type": "x", "data": []}):
        response = await chats.client.post(f"{url}/m1/event", json=body, headers=chats.headers)
        assert response.status_code == 422
    other = await chats.other_user()
    response = await chats.client.post(f"{url}/m1/event", json={"type": "x"}, headers=other)
    assert response.status_code == 404

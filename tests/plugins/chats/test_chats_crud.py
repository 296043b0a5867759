"""Create, read, merge-update and delete chats through both prefixes, with Open WebUI documents."""

from __future__ import annotations

import pytest

from colonnade.plugins.chats.models import Chat, Message

pytestmark = pytest.mark.asyncio

ASSISTANT_EXTRAS = {
    "model": "llama3.1:8b",
    "modelName": "Llama 3.1",
    "done": True,
    "timestamp": 1735689601,
    "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hi!"}]}],
    "usage": {"input_tokens": 12, "output_tokens": 3},
    "sources": [],
}


async def test_create_on_the_spec_path_returns_201_with_a_server_id(chats, make_history):
    doc = {
        "id": "client-id",
        "models": ["gpt-4o"],
        "params": {"temperature": 0.2},
        "history": make_history({"id": "u1", "content": "Hello"}),
    }
    body = await chats.create(**doc)
    assert body["id"] != "client-id"
    assert body["title"] == "A chat" and body["chat"]["title"] == "A chat"
    assert body["chat"]["id"] == body["id"]
    assert body["chat"]["models"] == ["gpt-4o"] and body["chat"]["params"] == {"temperature": 0.2}
    assert body["current_message_id"] == "u1" and body["chat"]["history"]["currentId"] == "u1"
    assert body["archived"] is False and body["pinned"] is False and body["meta"] == {}
    assert body["created_at"] == body["updated_at"]


async def test_open_webui_create_answers_200_and_defaults_the_title(chats):
    response = await chats.client.post(
        "/api/v1/chats/new", json={"chat": {"models": []}, "folder_id": None}, headers=chats.headers
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert body["title"] == "New Chat"
    assert body["chat"]["history"] == {"messages": {}, "currentId": None}


async def test_authorship_is_overwritten_with_the_caller(chats, make_history):
    me = (await (await chats.client.get("/api/auth/me", headers=chats.headers)).get_json())["id"]
    body = await chats.create(
        history=make_history(
            {"id": "u1", "content": "Hi", "user_id": "someone-else", "user": {"id": "x", "name": "X"}},
            {"id": "a1", "parentId": "u1", "role": "assistant", "content": "Hey"},
        )
    )
    messages = body["chat"]["history"]["messages"]
    assert messages["u1"]["user_id"] == me and messages["u1"]["user"]["id"] == me
    assert messages["a1"]["user_id"] == me and "user" not in messages["a1"]


async def test_a_branching_history_round_trips(chats, make_history):
    posted = make_history(
        {"id": "u1", "content": "Hello", "timestamp": 1735689600, "models": ["m"]},
        {"id": "a2", "parentId": "u1", "role": "assistant", "content": "Second", **ASSISTANT_EXTRAS},
        {"id": "a1", "parentId": "u1", "role": "assistant", "content": "First", **ASSISTANT_EXTRAS},
        {"id": "u2", "parentId": "a1", "content": [{"type": "text", "text": "blocks"}]},
        current="u2",
    )
    created = await chats.create(history=posted, messages=[])
    read = await chats.get(created["id"])
    got = read["chat"]["history"]
    assert got["currentId"] == "u2"
    for message_id, message in posted["messages"].items():
        stored = {
            key: value for key, value in got["messages"][message_id].items() if key not in ("user_id", "user")
        }
        assert stored == message, message_id
    # Sibling order follows the posted childrenIds, and the legacy list is the current thread.
    assert got["messages"]["u1"]["childrenIds"] == ["a2", "a1"]
    assert [m["id"] for m in read["chat"]["messages"]] == ["u1", "a1", "u2"]
    assert read["chat"]["share_mode"] == "continue"


async def test_a_legacy_flat_message_list_becomes_a_single_branch(chats):
    body = await chats.create(
        messages=[
            {"id": "m1", "role": "user", "content": "one"},
            {"id": "m2", "role": "assistant", "content": "two"},
            {"id": "m3", "role": "user", "content": "three"},
        ]
    )
    messages = body["chat"]["history"]["messages"]
    assert [messages[i]["parentId"] for i in ("m1", "m2", "m3")] == [None, "m1", "m2"]
    assert messages["m2"]["childrenIds"] == ["m3"]
    assert body["current_message_id"] == "m3"


async def test_update_merges_the_document_and_the_history(chats, make_history):
    created = await chats.create(
        params={"a": 1},
        models=["x"],
        history=make_history(
            {"id": "u1", "content": "Hello"},
            {"id": "a1", "parentId": "u1", "role": "assistant", "content": "Hi"},
        ),
    )
    chat_id = created["id"]
    await Chat.filter(id=chat_id).update(updated_at=1000)
    # The post leaves u1 out, edits a1 and adds u2.
    patch = {
        "currentId": "u2",
        "messages": {
            "a1": {
                "id": "a1",
                "parentId": "u1",
                "childrenIds": ["u2"],
                "role": "assistant",
                "content": "Hi, edited",
            },
            "u2": {"id": "u2", "parentId": "a1", "childrenIds": [], "role": "user", "content": "More"},
        },
    }
    response = await chats.client.post(
        f"/api/v1/chats/{chat_id}",
        json={"chat": {"title": "Renamed", "params": {"b": 2}, "history": patch}},
        headers=chats.headers,
    )
    assert response.status_code == 200
    body = await response.get_json()
    messages = body["chat"]["history"]["messages"]
    assert set(messages) == {"u1", "a1", "u2"}  # u1 was not posted and survives
    assert messages["a1"]["content"] == "Hi, edited" and messages["a1"]["childrenIds"] == ["u2"]
    assert body["title"] == "Renamed" and body["chat"]["title"] == "Renamed"
    assert body["chat"]["params"] == {"b": 2} and body["chat"]["models"] == ["x"]
    assert body["current_message_id"] == "u2" and body["updated_at"] > 1000


async def test_a_title_only_update_does_not_move_updated_at(chats):
    created = await chats.create()
    await Chat.filter(id=created["id"]).update(updated_at=1000)
    response = await chats.client.post(
        f"/api/chats/{created['id']}", json={"chat": {"title": "New title"}}, headers=chats.headers
    )
    body = await response.get_json()
    assert body["title"] == "New title" and body["updated_at"] == 1000


async def test_update_keeps_an_assistant_message_that_is_still_generating(chats, make_history):
    created = await chats.create(
        history=make_history(
            {"id": "u1", "content": "Q"},
            {"id": "a1", "parentId": "u1", "role": "assistant", "content": "partial", "done": False},
        )
    )
    patch = make_history(
        {"id": "u1", "content": "Q"},
        {"id": "a1", "parentId": "u1", "role": "assistant", "content": "client copy", "done": True},
    )
    response = await chats.client.post(
        f"/api/chats/{created['id']}", json={"chat": {"history": patch}}, headers=chats.headers
    )
    assert (await response.get_json())["chat"]["history"]["messages"]["a1"]["content"] == "partial"


async def test_update_sets_variables_and_folder_only_when_given(chats):
    created = await chats.create()
    url = f"/api/chats/{created['id']}"
    await chats.client.post(
        url, json={"chat": {}, "variables": {"v": 1}, "folder_id": "f1"}, headers=chats.headers
    )
    response = await chats.client.post(url, json={"chat": {"x": 1}}, headers=chats.headers)
    body = await response.get_json()
    assert body["variables"] == {"v": 1} and body["folder_id"] == "f1" and body["chat"]["x"] == 1


@pytest.mark.parametrize("prefix", ["/api/chats", "/api/v1/chats"])
async def test_delete_returns_true_and_removes_the_messages(chats, make_history, prefix):
    created = await chats.create(history=make_history({"id": "u1", "content": "bye"}))
    response = await chats.client.delete(f"{prefix}/{created['id']}", headers=chats.headers)
    assert response.status_code == 200 and await response.get_json() is True
    assert (await chats.client.get(f"{prefix}/{created['id']}", headers=chats.headers)).status_code == 404
    assert await Message.filter(chat_id=created["id"]).count() == 0
    again = await chats.client.delete(f"{prefix}/{created['id']}", headers=chats.headers)
    assert again.status_code == 404 and "detail" in await again.get_json()


async def test_delete_all_removes_only_the_callers_chats(chats):
    mine = [await chats.create() for _ in range(2)]
    other = await chats.other_user()
    theirs = await chats.create(headers=other)
    response = await chats.client.delete("/api/v1/chats/", headers=chats.headers)
    assert await response.get_json() is True
    assert not await Chat.filter(id__in=[c["id"] for c in mine]).exists()
    assert await Chat.filter(id=theirs["id"]).exists()


async def test_clone_copies_every_message(chats, make_history):
    created = await chats.create(
        history=make_history(
            {"id": "u1", "content": "a"}, {"id": "a1", "parentId": "u1", "role": "assistant", "content": "b"}
        )
    )
    response = await chats.client.post(f"/api/v1/chats/{created['id']}/clone", headers=chats.headers)
    clone = await response.get_json()
    assert clone["id"] != created["id"] and clone["title"] == "Clone of A chat"
    assert clone["chat"]["history"] == created["chat"]["history"]
    named = await chats.client.post(
        f"/api/v1/chats/{created['id']}/clone", json={"title": "Copy"}, headers=chats.headers
    )
    assert (await named.get_json())["title"] == "Copy"


async def test_params_patch_and_folder_move(chats):
    created = await chats.create(params={"a": 1})
    response = await chats.client.patch(
        f"/api/v1/chats/{created['id']}/params", json={"b": 2}, headers=chats.headers
    )
    assert await response.get_json() == {"a": 1, "b": 2}
    moved = await chats.client.post(
        f"/api/v1/chats/{created['id']}/folder", json={"folder_id": "folder-1"}, headers=chats.headers
    )
    assert (await moved.get_json())["folder_id"] == "folder-1"


async def test_import_keeps_flags_and_timestamps(chats, make_history):
    response = await chats.client.post(
        "/api/v1/chats/import",
        headers=chats.headers,
        json={
            "chats": [
                {
                    "chat": {"title": "Old", "history": make_history({"id": "u1", "content": "x"})},
                    "pinned": True,
                    "archived": True,
                    "created_at": 100,
                    "updated_at": 200,
                },
            ]
        },
    )
    (chat,) = await response.get_json()
    assert (chat["title"], chat["pinned"], chat["archived"], chat["created_at"], chat["updated_at"]) == (
        "Old",
        True,
        True,
        100,
        200,
    )
    assert chat["chat"]["history"]["currentId"] == "u1"


async def test_export_streams_ndjson(chats):
    ids = {(await chats.create())["id"] for _ in range(2)}
    response = await chats.client.get("/api/v1/chats/all", headers=chats.headers)
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    import json

    lines = (await response.get_data(as_text=True)).splitlines()
    assert {json.loads(line)["id"] for line in lines} == ids


async def test_deleting_the_owner_deletes_the_chats(chats):
    from colonnade.auth.models import User

    other = await chats.other_user()
    created = await chats.create(headers=other)
    await chats.append(created["id"], headers=other, content="hello")
    owner = await User.get(id=created["user_id"])
    await owner.delete()
    assert not await Chat.filter(id=created["id"]).exists()
    assert not await Message.filter(chat_id=created["id"]).exists()


async def test_concurrent_saves_of_one_new_message_store_it_once(chats, make_history):
    import asyncio

    created = await chats.create(history=make_history({"id": "u1", "content": "a"}))
    patch = make_history({"id": "u1", "content": "a"}, {"id": "a1", "parentId": "u1", "role": "assistant"})
    responses = await asyncio.gather(
        *(
            chats.client.post(
                f"/api/chats/{created['id']}", json={"chat": {"history": patch}}, headers=chats.headers
            )
            for _ in range(5)
        )
    )
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 409} and 200 in statuses
    assert await Message.filter(chat_id=created["id"]).count() == 2


async def test_fork_copies_the_thread_up_to_a_message(chats, make_history):
    created = await chats.create(
        history=make_history(
            {"id": "u1", "content": "q"},
            {"id": "a1", "parentId": "u1", "role": "assistant", "content": "one"},
            {"id": "a2", "parentId": "u1", "role": "assistant", "content": "two"},
            {"id": "u2", "parentId": "a2", "content": "more"},
            current="u2",
        )
    )
    url = f"/api/v1/chats/{created['id']}/fork"
    fork = await (await chats.client.post(url, json={"message_id": "a1"}, headers=chats.headers)).get_json()
    assert fork["id"] != created["id"] and fork["current_message_id"] == "a1"
    assert set(fork["chat"]["history"]["messages"]) == {"u1", "a1"}
    assert fork["chat"]["history"]["messages"]["u1"]["childrenIds"] == ["a1"]
    whole = await (await chats.client.post(url, headers=chats.headers)).get_json()
    assert set(whole["chat"]["history"]["messages"]) == {"u1", "a2", "u2"}
    missing = await chats.client.post(url, json={"message_id": "nope"}, headers=chats.headers)
    assert missing.status_code == 404

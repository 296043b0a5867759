"""Message CRUD inside a chat, and the consistency of the tree (parentId, childrenIds, currentId)."""

from __future__ import annotations

import pytest

from colonnade.plugins.chats.models import Message

pytestmark = pytest.mark.asyncio


def assert_consistent(history: dict) -> None:
    """Every message is listed by its parent exactly once, and lists only children that point back."""
    messages = history["messages"]
    for message_id, message in messages.items():
        parent = message["parentId"]
        if parent is not None:
            assert messages[parent]["childrenIds"].count(message_id) == 1
        for child in message["childrenIds"]:
            assert messages[child]["parentId"] == message_id
    current = history["currentId"]
    assert current is None or (current in messages and messages[current]["childrenIds"] == [])


async def test_append_continues_from_the_current_message(chats):
    chat = await chats.create()
    first = await chats.append(chat["id"], content="Hello")
    assert first["parentId"] is None and first["role"] == "user" and first["childrenIds"] == []
    assert isinstance(first["timestamp"], int)
    reply = await chats.append(chat["id"], role="assistant", content="Hi", model="m1")
    assert reply["parentId"] == first["id"] and reply["model"] == "m1"
    body = await chats.get(chat["id"])
    history = body["chat"]["history"]
    assert history["currentId"] == reply["id"] == body["current_message_id"]
    assert history["messages"][first["id"]]["childrenIds"] == [reply["id"]]
    assert_consistent(history)


async def test_explicit_parent_makes_a_branch_and_null_a_new_root(chats):
    chat = await chats.create()
    question = await chats.append(chat["id"], id="q", content="Q")
    await chats.append(chat["id"], id="a1", role="assistant", content="one")
    await chats.append(chat["id"], id="a2", parentId="q", role="assistant", content="two")
    await chats.append(chat["id"], id="root2", parentId=None, content="again")
    history = (await chats.get(chat["id"]))["chat"]["history"]
    assert history["messages"][question["id"]]["childrenIds"] == ["a1", "a2"]
    assert history["messages"]["root2"]["parentId"] is None
    assert history["currentId"] == "root2"
    assert_consistent(history)


async def test_append_refuses_unknown_parents_and_duplicate_ids(chats):
    chat = await chats.create()
    await chats.append(chat["id"], id="m1", content="x")
    before = await chats.get(chat["id"])
    url = f"/api/chats/{chat['id']}/messages"
    for body, status in (
        ({"parentId": "nope", "content": "x"}, 422),
        ({"id": "m1", "content": "y"}, 409),
        ({"content": 5}, 422),
        ({"role": ""}, 422),
        ({"id": "x" * 300}, 422),
    ):
        response = await chats.client.post(url, json=body, headers=chats.headers)
        assert response.status_code == status, body
        assert isinstance((await response.get_json())["detail"], str)
    assert await chats.get(chat["id"]) == before


async def test_list_messages_whole_tree_or_one_branch(chats):
    chat = await chats.create()
    await chats.append(chat["id"], id="q", content="Q")
    await chats.append(chat["id"], id="a1", role="assistant", content="one")
    await chats.append(chat["id"], id="a2", parentId="q", role="assistant", content="two")
    await chats.append(chat["id"], id="q2", content="follow-up")  # under a2, the current message
    base = f"/api/chats/{chat['id']}/messages"

    async def ids(query: str = "") -> list[str]:
        response = await chats.client.get(base + query, headers=chats.headers)
        assert response.status_code == 200
        return [message["id"] for message in await response.get_json()]

    assert await ids() == ["q", "a1", "a2", "q2"]
    assert await ids("?branch=current") == ["q", "a2", "q2"]
    assert await ids("?branch=a1") == ["q", "a1"]
    assert await ids("?offset=1&limit=2") == ["a1", "a2"]
    missing = await chats.client.get(base + "?branch=unknown", headers=chats.headers)
    assert missing.status_code == 404


async def test_get_one_message(chats):
    chat = await chats.create()
    await chats.append(chat["id"], id="q", content="Q")
    await chats.append(chat["id"], id="a", role="assistant", content="A")
    response = await chats.client.get(f"/api/chats/{chat['id']}/messages/q", headers=chats.headers)
    body = await response.get_json()
    assert (body["id"], body["parentId"], body["childrenIds"], body["content"]) == ("q", None, ["a"], "Q")
    missing = await chats.client.get(f"/api/chats/{chat['id']}/messages/zzz", headers=chats.headers)
    assert missing.status_code == 404


async def test_update_a_message_on_the_spec_path(chats):
    chat = await chats.create()
    await chats.append(chat["id"], id="a", role="assistant", content="draft", model="m")
    url = f"/api/chats/{chat['id']}/messages/a"
    response = await chats.client.post(url, json={"content": "final", "done": True}, headers=chats.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["content"], body["done"], body["model"], body["parentId"]) == ("final", True, "m", None)
    stored = (await chats.get(chat["id"]))["chat"]["history"]["messages"]["a"]
    assert stored["content"] == "final"


async def test_message_update_refuses_tree_keys_empty_bodies_and_unknown_ids(chats):
    chat = await chats.create()
    await chats.append(chat["id"], id="a", content="same")
    before = await chats.get(chat["id"])
    base = f"/api/chats/{chat['id']}/messages"
    for url, body, status in (
        (f"{base}/a", {"parentId": "x"}, 422),
        (f"{base}/a", {"childrenIds": []}, 422),
        (f"{base}/a", {}, 400),
        (f"{base}/a", {"content": 3}, 422),
        (f"{base}/a", {"voice": {"x": "y" * 100_001}}, 400),
        (f"{base}/nope", {"content": "x"}, 404),
    ):
        response = await chats.client.post(url, json=body, headers=chats.headers)
        assert response.status_code == status, body
        assert isinstance((await response.get_json())["detail"], str)
    assert await chats.get(chat["id"]) == before


async def test_open_webui_message_upsert_returns_the_chat(chats):
    chat = await chats.create()
    await chats.append(chat["id"], id="q", content="Q")
    url = f"/api/v1/chats/{chat['id']}/messages"
    response = await chats.client.post(f"{url}/new-one", json={"content": "answer"}, headers=chats.headers)
    assert response.status_code == 200
    history = (await response.get_json())["chat"]["history"]
    assert history["messages"]["new-one"]["parentId"] == "q"
    assert history["messages"]["new-one"]["role"] == "assistant"  # the parent was a user turn
    assert history["currentId"] == "new-one"
    voice = await chats.client.post(f"{url}/q", json={"voice": {"id": "alloy"}}, headers=chats.headers)
    assert (await voice.get_json())["chat"]["history"]["messages"]["q"]["meta"]["voice"] == {"id": "alloy"}
    assert_consistent(history)


async def test_delete_removes_direct_replies_and_reparents_grandchildren(chats):
    chat = await chats.create()
    await chats.append(chat["id"], id="u1", content="first")
    await chats.append(chat["id"], id="a1", role="assistant", content="reply")
    await chats.append(chat["id"], id="u2", content="second")
    await chats.append(chat["id"], id="a2", role="assistant", content="reply 2")
    response = await chats.client.delete(f"/api/chats/{chat['id']}/messages/a1", headers=chats.headers)
    assert response.status_code == 200
    assert await response.get_json() == {"deleted": ["a1", "u2"], "currentId": "a2"}
    history = (await chats.get(chat["id"]))["chat"]["history"]
    assert set(history["messages"]) == {"u1", "a2"}
    assert history["messages"]["a2"]["parentId"] == "u1"
    assert history["messages"]["u1"]["childrenIds"] == ["a2"]
    assert_consistent(history)
    assert await Message.filter(chat_id=chat["id"]).count() == 2


async def test_open_webui_delete_returns_the_chat_and_404s_unknown_ids(chats):
    chat = await chats.create()
    await chats.append(chat["id"], id="u1", content="only")
    url = f"/api/v1/chats/{chat['id']}/messages"
    response = await chats.client.delete(f"{url}/u1", headers=chats.headers)
    body = await response.get_json()
    assert body["chat"]["history"] == {"messages": {}, "currentId": None}
    assert (await chats.client.delete(f"{url}/u1", headers=chats.headers)).status_code == 404


async def test_history_updates_keep_the_tree_consistent(chats, make_history):
    chat = await chats.create(
        history=make_history(
            {"id": "u1", "content": "a"}, {"id": "a1", "parentId": "u1", "role": "assistant", "content": "b"}
        )
    )
    # A regeneration posted Open WebUI's way: a sibling of a1, with currentId on it.
    patch = {
        "currentId": "a2",
        "messages": {
            "u1": {"id": "u1", "parentId": None, "childrenIds": ["a1", "a2"], "role": "user", "content": "a"},
            "a2": {"id": "a2", "parentId": "u1", "childrenIds": [], "role": "assistant", "content": "c"},
        },
    }
    response = await chats.client.post(
        f"/api/chats/{chat['id']}", json={"chat": {"history": patch}}, headers=chats.headers
    )
    history = (await response.get_json())["chat"]["history"]
    assert history["messages"]["u1"]["childrenIds"] == ["a1", "a2"] and history["currentId"] == "a2"
    assert_consistent(history)


async def test_a_stale_current_id_is_repaired_to_the_newest_leaf(chats, make_history):
    body = await chats.create(
        history=make_history(
            {"id": "u1", "content": "a"},
            {"id": "a1", "parentId": "u1", "role": "assistant", "content": "b"},
            current="gone",
        )
    )
    assert body["current_message_id"] == "a1"
    body = await chats.create(
        history=make_history(
            {"id": "u1", "content": "a"},
            {"id": "a1", "parentId": "u1", "role": "assistant", "content": "b"},
            current="u1",
        )
    )
    assert body["current_message_id"] == "a1"

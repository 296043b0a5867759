"""Chat tags at Open WebUI's paths: add, list, remove, find chats by tag, and unused tags going away."""

from __future__ import annotations

import pytest

from colonnade.plugins.chats.models import ChatTag, Tag

pytestmark = pytest.mark.asyncio


async def tag(chats, chat_id: str, name: str, headers=None):
    return await chats.client.post(
        f"/api/v1/chats/{chat_id}/tags", json={"name": name}, headers=headers or chats.headers
    )


async def test_tagging_a_chat(chats):
    chat = await chats.create()
    response = await tag(chats, chat["id"], "Work Stuff")
    assert response.status_code == 200
    me = chat["user_id"]
    assert await response.get_json() == [
        {"id": "work_stuff", "name": "Work Stuff", "user_id": me, "meta": None}
    ]
    await tag(chats, chat["id"], "work stuff")  # the same tag again: no duplicate
    await tag(chats, chat["id"], "later")
    assert (await chats.get(chat["id"]))["meta"]["tags"] == ["work_stuff", "later"]
    listed = await chats.client.get(f"/api/chats/{chat['id']}/tags", headers=chats.headers)
    assert [t["id"] for t in await listed.get_json()] == ["work_stuff", "later"]
    everything = await chats.client.get("/api/v1/chats/all/tags", headers=chats.headers)
    assert [t["name"] for t in await everything.get_json()] == ["Work Stuff", "later"]


async def test_none_is_reserved_and_blank_names_are_refused(chats):
    chat = await chats.create()
    assert (await tag(chats, chat["id"], "None")).status_code == 400
    assert (await tag(chats, chat["id"], "   ")).status_code == 422
    assert (await tag(chats, chat["id"], "")).status_code == 422
    assert await Tag.all().count() == 0


async def test_chats_by_tag(chats):
    first, second, _untagged = [await chats.create(title=t) for t in ("a", "b", "c")]
    for chat in (first, second):
        await tag(chats, chat["id"], "trip")
    response = await chats.client.post("/api/v1/chats/tags", json={"name": "Trip"}, headers=chats.headers)
    assert sorted(item["title"] for item in await response.get_json()) == ["a", "b"]


async def test_removing_the_last_use_drops_the_tag(chats):
    first, second = await chats.create(), await chats.create()
    await tag(chats, first["id"], "shared")
    await tag(chats, second["id"], "shared")
    await tag(chats, first["id"], "solo")
    response = await chats.client.delete(
        f"/api/v1/chats/{first['id']}/tags", json={"name": "solo"}, headers=chats.headers
    )
    assert [t["id"] for t in await response.get_json()] == ["shared"]
    assert await Tag.filter(tag_id="solo").count() == 0
    await chats.client.delete(f"/api/v1/chats/{first['id']}/tags/all", headers=chats.headers)
    assert await Tag.filter(tag_id="shared").count() == 1  # the second chat still carries it
    await chats.client.delete(f"/api/chats/{second['id']}", headers=chats.headers)
    assert await Tag.all().count() == 0 and await ChatTag.all().count() == 0


async def test_clone_and_import_carry_tags(chats):
    chat = await chats.create()
    await tag(chats, chat["id"], "keep")
    clone = await (
        await chats.client.post(f"/api/v1/chats/{chat['id']}/clone", headers=chats.headers)
    ).get_json()
    assert [
        t["id"]
        for t in await (
            await chats.client.get(f"/api/v1/chats/{clone['id']}/tags", headers=chats.headers)
        ).get_json()
    ] == ["keep"]
    imported = await chats.client.post(
        "/api/v1/chats/import",
        headers=chats.headers,
        json={"chats": [{"chat": {"title": "x"}, "meta": {"tags": ["keep", "new_one"]}}]},
    )
    (body,) = await imported.get_json()
    assert body["meta"]["tags"] == ["keep", "new_one"]
    assert await Tag.filter(user_id=chat["user_id"]).count() == 2


async def test_another_users_chat_tags_are_404(chats):
    chat = await chats.create()
    await tag(chats, chat["id"], "mine")
    other = await chats.other_user()
    assert (await tag(chats, chat["id"], "theirs", headers=other)).status_code == 404
    for method in ("GET", "DELETE"):
        response = await chats.client.open(
            f"/api/v1/chats/{chat['id']}/tags", method=method, json={"name": "mine"}, headers=other
        )
        assert response.status_code == 404
    all_tags = await chats.client.get("/api/v1/chats/all/tags", headers=other)
    assert await all_tags.get_json() == []
    by_tag = await chats.client.post("/api/v1/chats/tags", json={"name": "mine"}, headers=other)
    assert await by_tag.get_json() == []
    assert (await chats.get(chat["id"]))["meta"]["tags"] == ["mine"]

"""Bad bodies get a 4xx JSON ``detail`` and change nothing: no chat created, no chat or message altered."""

from __future__ import annotations

import pytest

from colonnade.plugins.chats.models import Chat, Message

pytestmark = pytest.mark.asyncio


def tree(**messages):
    return {"history": {"messages": messages, "currentId": None}}


BAD_CHAT_BODIES = [
    {},
    {"chat": "not an object"},
    {"chat": {}, "folder_id": "x" * 65},
    {"chat": {}, "variables": []},
    {"chat": {"title": 5}},
    {"chat": {"history": []}},
    {"chat": {"history": {"messages": []}}},
    {"chat": {"messages": {"not": "a list"}}},
    {"chat": tree(m1="not an object")},
    {"chat": tree(m1={"id": "other", "role": "user"})},
    {"chat": tree(m1={"role": "user", "parentId": "missing"})},
    {"chat": tree(m1={"role": "user", "parentId": "m1"})},
    {"chat": tree(m1={"parentId": "m2"}, m2={"parentId": "m1"})},
    {"chat": tree(m1={"role": 7})},
    {"chat": tree(m1={"content": {"a": 1}})},
    {"chat": tree(m1={"childrenIds": "m2"})},
    {"chat": {"history": {"messages": {}, "currentId": 12}}},
    {"chat": {"messages": [{"id": "a"}, {"id": "a"}]}},
]


async def assert_refused(response) -> None:
    assert 400 <= response.status_code < 500, await response.get_data()
    assert isinstance((await response.get_json())["detail"], str)


async def test_bad_create_bodies_create_nothing(chats):
    for body in BAD_CHAT_BODIES:
        for url in ("/api/chats", "/api/v1/chats/new"):
            await assert_refused(await chats.client.post(url, json=body, headers=chats.headers))
    assert await Chat.all().count() == 0
    assert await Message.all().count() == 0


async def test_bad_update_bodies_change_nothing(chats, make_history):
    chat = await chats.create(
        history=make_history(
            {"id": "u1", "content": "a"}, {"id": "a1", "parentId": "u1", "role": "assistant", "content": "b"}
        )
    )
    before = await chats.get(chat["id"])
    for body in BAD_CHAT_BODIES:
        await assert_refused(
            await chats.client.post(f"/api/chats/{chat['id']}", json=body, headers=chats.headers)
        )
    # Valid new messages in the same post as an invalid one are not stored either.
    mixed = {"chat": tree(n1={"role": "user", "content": "new"}, n2={"parentId": "nowhere"})}
    await assert_refused(
        await chats.client.post(f"/api/chats/{chat['id']}", json=mixed, headers=chats.headers)
    )
    # Re-parenting a1 under its own descendant would make a loop.
    loop = {"chat": tree(u1={"parentId": "a1", "content": "a"})}
    await assert_refused(
        await chats.client.post(f"/api/chats/{chat['id']}", json=loop, headers=chats.headers)
    )
    assert await chats.get(chat["id"]) == before


async def test_non_json_bodies_are_4xx(chats):
    chat = await chats.create()
    before = await chats.get(chat["id"])
    for url in (
        "/api/chats",
        f"/api/chats/{chat['id']}",
        f"/api/chats/{chat['id']}/messages",
        f"/api/chats/{chat['id']}/archive",
        f"/api/v1/chats/{chat['id']}/clone",
    ):
        response = await chats.client.post(
            url, data="{not json", headers={**chats.headers, "Content-Type": "application/json"}
        )
        await assert_refused(response)
    response = await chats.client.patch(
        f"/api/v1/chats/{chat['id']}/params", json=[1, 2], headers=chats.headers
    )
    await assert_refused(response)
    assert await chats.get(chat["id"]) == before
    assert await Chat.all().count() == 1


async def test_bad_flag_bodies_change_nothing(chats):
    chat = await chats.create()
    for body in ({"archived": "perhaps"}, [True]):
        response = await chats.client.post(
            f"/api/chats/{chat['id']}/archive", json=body, headers=chats.headers
        )
        await assert_refused(response)
    assert (await chats.get(chat["id"]))["archived"] is False


async def test_a_bad_import_imports_nothing(chats):
    body = {"chats": [{"chat": {"title": "fine"}}, {"chat": tree(m1={"parentId": "missing"})}]}
    await assert_refused(await chats.client.post("/api/v1/chats/import", json=body, headers=chats.headers))
    assert await Chat.all().count() == 0


async def test_bodies_too_deep_with_huge_integers_or_nul_change_nothing(chats):
    # Each used to be a 500: the JSON decoder's recursion limit, the JSON column encoder's depth and
    # 64-bit limits, or the database's INTEGER (an import's timestamps).
    chat = await chats.create()
    before = await chats.get(chat["id"])
    deep = b"[" * 3000 + b"]" * 3000
    deep_for_storage = b'{"chat": {"x": ' + b"[" * 300 + b"]" * 300 + b"}}"
    huge = b'{"chat": {"title": "t", "n": 123456789012345678901234567890}}'
    huge_import = b'{"chats": [{"chat": {"title": "t"}, "created_at": 18446744073709551615}]}'
    for url, raw in (
        ("/api/chats", deep),
        ("/api/v1/chats/new", deep_for_storage),
        ("/api/v1/chats/new", huge),
        (f"/api/chats/{chat['id']}", deep_for_storage),
        (f"/api/chats/{chat['id']}", huge),
        (f"/api/chats/{chat['id']}/archive", deep),
        (f"/api/chats/{chat['id']}/pin", deep),
        (f"/api/v1/chats/{chat['id']}/clone", deep),
        ("/api/v1/chats/import", huge_import),
        ("/api/v1/chats/import", deep),
        # PostgreSQL refuses NUL in text and jsonb: these were 500s there.
        ("/api/v1/chats/new", b'{"chat": {"title": "a\\u0000b"}}'),
        (f"/api/chats/{chat['id']}", b'{"chat": {"x": "\\u0000"}}'),
        (f"/api/chats/{chat['id']}%00", b'{"chat": {}}'),
        ("/api/v1/chats/new", b'{"chat": {"title": "a\\ud800"}}'),
        (f"/api/v1/chats/{chat['id']}/clone", b'{"title": "a\\u0000"}'),
    ):
        response = await chats.client.post(
            url, data=raw, headers={**chats.headers, "Content-Type": "application/json"}
        )
        await assert_refused(response)
    for url in (f"/api/v1/chats/{chat['id']}%00", "/api/v1/chats/search?text=a%00b"):
        await assert_refused(await chats.client.get(url, headers=chats.headers))
    assert await chats.get(chat["id"]) == before
    assert await Chat.all().count() == 1

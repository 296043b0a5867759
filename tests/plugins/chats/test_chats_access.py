"""Who may touch a chat: the owner; an admin only where Open WebUI lets one in; everyone else gets 404."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio

PREFIXES = ["/api/chats", "/api/v1/chats"]

#: (method, path under the prefix, JSON body) for every route that names a chat.
CHAT_ROUTES = [
    ("GET", "/{id}", None),
    ("POST", "/{id}", {"chat": {"title": "hijacked"}}),
    ("DELETE", "/{id}", None),
    ("POST", "/{id}/archive", None),
    ("POST", "/{id}/pin", None),
    ("GET", "/{id}/pinned", None),
    ("POST", "/{id}/clone", None),
    ("POST", "/{id}/fork", None),
    ("POST", "/{id}/folder", {"folder_id": "f"}),
    ("PATCH", "/{id}/params", {"x": 1}),
    ("GET", "/{id}/messages", None),
    ("POST", "/{id}/messages", {"content": "intruder"}),
    ("GET", "/{id}/messages/m1", None),
    ("POST", "/{id}/messages/m1", {"content": "changed"}),
    ("DELETE", "/{id}/messages/m1", None),
    ("POST", "/{id}/messages/m1/event", {"type": "x"}),
    ("GET", "/{id}/tags", None),
    ("POST", "/{id}/tags", {"name": "x"}),
    ("DELETE", "/{id}/tags", {"name": "x"}),
    ("DELETE", "/{id}/tags/all", None),
]


async def call(chats, method: str, url: str, body, headers):
    return await chats.client.open(url, method=method, json=body, headers=headers)


async def owned_chat(chats) -> dict:
    chat = await chats.create(title="private")
    await chats.append(chat["id"], id="m1", content="secret")
    return await chats.get(chat["id"])


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_another_user_gets_404_everywhere_and_changes_nothing(chats, prefix):
    chat = await owned_chat(chats)
    other = await chats.other_user()
    for method, path, body in CHAT_ROUTES:
        response = await call(chats, method, prefix + path.format(id=chat["id"]), body, other)
        assert response.status_code == 404, (method, path)
        assert isinstance((await response.get_json())["detail"], str)
    assert await chats.get(chat["id"]) == chat


async def test_a_missing_chat_is_404_like_someone_elses(chats):
    for method, path, body in CHAT_ROUTES:
        response = await call(
            chats, method, "/api/chats" + path.format(id="no-such-chat"), body, chats.headers
        )
        assert response.status_code == 404, (method, path)


async def test_admin_reads_and_deletes_any_chat_but_cannot_change_it(chats):
    chat = await owned_chat(chats)
    admin = await chats.other_user("admin")
    base = f"/api/v1/chats/{chat['id']}"
    got = await chats.client.get(base, headers=admin)
    assert got.status_code == 200
    assert (await got.get_json())["chat"]["share_mode"] is None
    assert (await chats.client.get(f"{base}/messages/m1", headers=admin)).status_code == 200
    # Open WebUI lets an admin edit a message, but not the chat itself nor its flags.
    edited = await chats.client.post(f"{base}/messages/m1", json={"content": "moderated"}, headers=admin)
    assert edited.status_code == 200
    for method, path, body in (
        ("POST", "", {"chat": {"title": "x"}}),
        ("POST", "/archive", None),
        ("POST", "/pin", None),
        ("POST", "/messages", {"content": "x"}),
        ("DELETE", "/messages/m1", None),
    ):
        response = await call(chats, method, base + path, body, admin)
        assert response.status_code == 404, (method, path)
    listed = await chats.client.get(f"/api/v1/chats/list/user/{chat['user_id']}", headers=admin)
    assert [item["id"] for item in await listed.get_json()] == [chat["id"]]
    assert (await chats.client.delete(base, headers=admin)).status_code == 200


async def test_admin_chat_access_can_be_turned_off(make_chats_env):
    env = await make_chats_env({"plugins": {"chats": {"admin_chat_access": False}}})
    chat = await owned_chat(env)
    admin = await env.other_user("admin")
    for method, path, body in CHAT_ROUTES:
        response = await call(env, method, "/api/chats" + path.format(id=chat["id"]), body, admin)
        assert response.status_code == 404, (method, path)
    listed = await env.client.get(f"/api/v1/chats/list/user/{chat['user_id']}", headers=admin)
    assert listed.status_code == 403


async def test_listing_a_users_chats_is_for_admins_only(chats):
    chat = await owned_chat(chats)
    response = await chats.client.get(
        f"/api/v1/chats/list/user/{chat['user_id']}", headers=await chats.other_user()
    )
    assert response.status_code == 403


async def test_pending_users_and_anonymous_callers_are_refused(chats):
    pending = await chats.other_user("pending")
    for url in ("/api/chats", "/api/v1/chats/"):
        assert (await chats.client.get(url, headers=pending)).status_code == 403
        assert (await chats.client.get(url)).status_code == 401
    assert (await chats.client.post("/api/chats", json={"chat": {}}, headers=pending)).status_code == 403

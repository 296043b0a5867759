"""Every memory route sees the caller's memories only, refuses bad input without changing anything, and
survives embedding failures without half-written state."""

from __future__ import annotations

import pytest
from memory_helpers import add, embedded_texts, stored_vectors, user_id

pytestmark = pytest.mark.asyncio

SECRET = "My bank PIN is hidden under the green teapot."
TEA = "I drink green tea every morning."


async def test_another_users_memory_is_never_reachable(memory_app):
    env = await memory_app()
    alice_id, bob_id = await user_id(env, env.alice), await user_id(env, env.bob)
    secret = await add(env, env.alice, SECRET)
    mine = await add(env, env.bob, "I like trains.")
    for method, path, body in (
        ("GET", f"/api/memory/{secret['id']}", None),
        ("POST", f"/api/memory/{secret['id']}", {"content": "changed"}),
        ("POST", f"/api/v1/memories/{secret['id']}/update", {"content": "changed"}),
        ("DELETE", f"/api/memory/{secret['id']}", None),
    ):
        response = await env.client.open(path, method=method, json=body, headers=env.bob)
        assert response.status_code == 404, (method, path)
        assert await response.get_json() == {"detail": "Memory not found"}
    # Open WebUI's delete answers false for an id that is not the caller's, as for a missing one.
    response = await env.client.delete(f"/api/v1/memories/{secret['id']}", headers=env.bob)
    assert response.status_code == 200 and await response.get_json() is False
    # Nothing changed.
    listed = await (await env.client.get("/api/memory", headers=env.alice)).get_json()
    assert [(item["id"], item["content"]) for item in listed] == [(secret["id"], SECRET)]
    assert await stored_vectors(env, alice_id) == {secret["id"]: SECRET}
    # Lists, queries and text searches hold only the caller's memories, however near the other's is.
    assert [
        item["id"] for item in await (await env.client.get("/api/v1/memories/", headers=env.bob)).get_json()
    ] == [mine["id"]]
    for path in ("/api/memory/query", "/api/v1/memories/query"):
        response = await env.client.post(path, json={"content": SECRET, "k": 10}, headers=env.bob)
        assert (await response.get_json())["ids"] == [[mine["id"]]]
    response = await env.client.post("/api/v1/memories/search", json={"query": "PIN"}, headers=env.bob)
    assert await response.get_json() == []
    response = await env.client.post(
        "/api/v1/memories/search", json={"memory_id": secret["id"]}, headers=env.bob
    )
    assert await response.get_json() == []
    # Bob's reset and delete-all leave Alice's memories alone.
    assert await (await env.client.post("/api/v1/memories/reset", headers=env.bob)).get_json() is True
    assert await (await env.client.delete("/api/v1/memories/delete/user", headers=env.bob)).get_json() is True
    assert await stored_vectors(env, alice_id) == {secret["id"]: SECRET}
    assert await stored_vectors(env, bob_id) == {}
    # rag's own query route keeps a user's memory collection to that user.
    response = await env.client.post(
        "/api/rag/query",
        json={"query": SECRET, "collection_names": [f"user-memory-{alice_id}"]},
        headers=env.bob,
    )
    assert response.status_code == 404


async def test_an_admin_sees_only_their_own_memories(memory_app, auth_headers):
    env = await memory_app()
    admin = await auth_headers(env.app, role="admin")
    secret = await add(env, env.alice, SECRET)
    assert await (await env.client.get("/api/memory", headers=admin)).get_json() == []
    response = await env.client.get(f"/api/memory/{secret['id']}", headers=admin)
    assert response.status_code == 404
    response = await env.client.post("/api/memory/query", json={"content": SECRET}, headers=admin)
    assert response.status_code == 404


async def test_credentials_and_roles(memory_app, auth_headers):
    env = await memory_app()
    pending = await auth_headers(env.app, role="pending")
    for method, path in (
        ("GET", "/api/memory"),
        ("POST", "/api/v1/memories/add"),
        ("POST", "/api/memory/query"),
        ("DELETE", "/api/v1/memories/delete/user"),
        ("POST", "/api/v1/memories/reindex"),
    ):
        response = await env.client.open(path, method=method, json={"content": "x"})
        assert response.status_code == 401, path
        response = await env.client.open(path, method=method, json={"content": "x"}, headers=pending)
        assert response.status_code == 403, path
    # Re-embedding everyone's memories is for admins.
    response = await env.client.post("/api/v1/memories/reindex", headers=env.alice)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/memories/add", {}, 422),
        ("/api/v1/memories/add", {"content": ""}, 422),
        ("/api/v1/memories/add", {"content": "   "}, 422),
        ("/api/v1/memories/add", {"content": 5}, 422),
        ("/api/v1/memories/add", {"content": "x", "type": "secret"}, 422),
        ("/api/v1/memories/add", {"content": "x", "path": "p" * 1025}, 422),
        ("/api/v1/memories/add", {"content": "x", "meta": "not an object"}, 422),
        ("/api/memory", ["content"], 422),
        ("/api/memory", {"content": "x" * 101}, 400),
        ("/api/memory/query", {"content": ""}, 422),
        ("/api/memory/query", {"content": "tea", "k": 0}, 422),
        ("/api/memory/query", {"content": "tea", "k": "many"}, 422),
        ("/api/v1/memories/search", {"limit": 0}, 422),
        ("/api/v1/memories/search", {"type": "other"}, 422),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(memory_app, path, body, status):
    env = await memory_app({"max_content_length": 100})
    memory = await add(env, env.alice, TEA)
    response = await env.client.post(path, json=body, headers=env.alice)
    assert response.status_code == status
    assert isinstance((await response.get_json())["detail"], str)
    listed = await (await env.client.get("/api/memory", headers=env.alice)).get_json()
    assert [item["content"] for item in listed] == [TEA]
    assert await stored_vectors(env, memory["user_id"]) == {memory["id"]: TEA}


async def test_bad_updates_change_nothing(memory_app):
    env = await memory_app({"max_content_length": 100})
    memory = await add(env, env.alice, TEA)
    path = f"/api/memory/{memory['id']}"
    for body, status in (
        ({"content": ""}, 422),
        ({"content": "  "}, 422),
        ({"type": "secret"}, 422),
        ({"content": "y" * 101}, 400),
        ({}, 400),
    ):
        response = await env.client.post(path, json=body, headers=env.alice)
        assert response.status_code == status, body
    response = await env.client.post(path, data="content=x", headers=env.alice)
    assert response.status_code in (415, 422)
    assert await (await env.client.get(path, headers=env.alice)).get_json() == memory
    # An id that cannot be one is simply not found.
    response = await env.client.post("/api/memory/" + "z" * 300, json={"content": "x"}, headers=env.alice)
    assert response.status_code == 404


async def test_an_embedding_failure_stores_nothing(memory_app):
    env = await memory_app()
    alice_id = await user_id(env, env.alice)
    memory = await add(env, env.alice, TEA)
    env.fake.app.control.fail(503, "embedding service overloaded")
    response = await env.client.post("/api/v1/memories/add", json={"content": SECRET}, headers=env.alice)
    assert response.status_code == 502
    assert (await response.get_json())["detail"].startswith("Embedding failed")
    assert "sk-upstream" not in (await response.get_data(as_text=True))
    response = await env.client.post(
        f"/api/memory/{memory['id']}", json={"content": SECRET}, headers=env.alice
    )
    assert response.status_code == 502
    response = await env.client.post("/api/v1/memories/reset", headers=env.alice)
    assert response.status_code == 502
    response = await env.client.post("/api/memory/query", json={"content": "tea"}, headers=env.alice)
    assert response.status_code == 502
    env.fake.app.control.status = None
    listed = await (await env.client.get("/api/memory", headers=env.alice)).get_json()
    assert [(item["id"], item["content"]) for item in listed] == [(memory["id"], TEA)]
    assert await stored_vectors(env, alice_id) == {memory["id"]: TEA}
    assert SECRET in embedded_texts(env.fake)  # it was tried


async def test_memory_needs_rag(make_app):
    from colonnade.errors import StartupError

    with pytest.raises(StartupError, match="requires plugin 'rag'"):
        await make_app(load_plugins=["memory"])

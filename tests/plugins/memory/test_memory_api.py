"""The memory routes at both prefixes, through HTTP, with embeddings from the fake OpenAI upstream and
the LanceDB store: create, list, read, update (re-embedded), delete (vectors removed), query, search,
reset, and that every route sees the caller's memories only."""

from __future__ import annotations

import pytest
from memory_helpers import add, embedded_texts, stored_vectors, user_id

from colonnade.plugins.rag.service import rag_service

pytestmark = pytest.mark.asyncio

TEA = "I drink green tea every morning."
RUST = "I am writing a compiler in Rust."
CAT = "My cat is called Miso."


async def test_add_list_and_read_at_both_prefixes(memory_app):
    env = await memory_app()
    created = await env.client.post("/api/memory", json={"content": TEA}, headers=env.alice)
    assert created.status_code == 201
    tea = await created.get_json()
    alice_id = await user_id(env, env.alice)
    assert tea["content"] == TEA and tea["user_id"] == alice_id
    assert tea["type"] == "context" and tea["path"] is None
    assert tea["meta"] == {"created_by": alice_id}
    assert tea["created_at"] == tea["updated_at"] > 0
    assert set(tea) == {"id", "user_id", "type", "path", "content", "meta", "updated_at", "created_at"}

    owui = await env.client.post(
        "/api/v1/memories/add",
        json={"content": RUST, "type": "user", "path": "work/projects"},
        headers=env.alice,
    )
    assert owui.status_code == 200
    rust = await owui.get_json()
    assert (rust["type"], rust["path"]) == ("user", "work/projects")

    for path in ("/api/memory", "/api/v1/memories/", "/api/v1/memories"):
        listed = await env.client.get(path, headers=env.alice)
        assert listed.status_code == 200
        # Oldest first (created in the same second: either order).
        assert sorted(item["id"] for item in await listed.get_json()) == sorted([tea["id"], rust["id"]])
    one = await env.client.get(f"/api/memory/{tea['id']}", headers=env.alice)
    assert await one.get_json() == tea
    # Embedded on write, into the owner's own collection, under the memory's id.
    assert await stored_vectors(env, alice_id) == {tea["id"]: TEA, rust["id"]: RUST}
    assert TEA in embedded_texts(env.fake) and RUST in embedded_texts(env.fake)


async def test_update_reembeds_at_both_prefixes(memory_app):
    env = await memory_app()
    alice_id = await user_id(env, env.alice)
    memory = await add(env, env.alice, TEA)
    spec = await env.client.post(f"/api/memory/{memory['id']}", json={"content": CAT}, headers=env.alice)
    assert spec.status_code == 200
    updated = await spec.get_json()
    assert updated["content"] == CAT and updated["id"] == memory["id"]
    assert updated["updated_at"] >= memory["updated_at"] and updated["created_at"] == memory["created_at"]
    assert embedded_texts(env.fake)[-1] == CAT
    assert await stored_vectors(env, alice_id) == {memory["id"]: CAT}

    embedded = len(embedded_texts(env.fake))
    owui = await env.client.post(
        f"/api/v1/memories/{memory['id']}/update", json={"type": "user", "path": "pets"}, headers=env.alice
    )
    assert owui.status_code == 200
    assert {key: (await owui.get_json())[key] for key in ("content", "type", "path")} == {
        "content": CAT,
        "type": "user",
        "path": "pets",
    }
    # The text did not change: its vector is kept, with the new type and path beside it.
    assert len(embedded_texts(env.fake)) == embedded
    rag = rag_service(env.app.extensions["colonnade"])
    (record,) = await rag.store.get("user-memory-" + alice_id)
    assert (record.metadata["type"], record.metadata["path"]) == ("user", "pets")
    cleared = await env.client.post(f"/api/memory/{memory['id']}", json={"path": None}, headers=env.alice)
    assert (await cleared.get_json())["path"] is None

    query = await env.client.post(
        "/api/memory/query", json={"content": "what is my cat called"}, headers=env.alice
    )
    assert (await query.get_json())["documents"] == [[CAT]]


async def test_update_needs_a_change(memory_app):
    env = await memory_app()
    memory = await add(env, env.alice, TEA)
    for body in ({}, {"content": None}, {"unknown": 1}):
        response = await env.client.post(
            f"/api/v1/memories/{memory['id']}/update", json=body, headers=env.alice
        )
        assert response.status_code == 400
        assert await response.get_json() == {"detail": "No memory update provided"}


async def test_delete_removes_the_vector(memory_app):
    env = await memory_app()
    alice_id = await user_id(env, env.alice)
    tea, rust = await add(env, env.alice, TEA), await add(env, env.alice, RUST)
    response = await env.client.delete(f"/api/memory/{tea['id']}", headers=env.alice)
    assert response.status_code == 200 and await response.get_json() is True
    assert await stored_vectors(env, alice_id) == {rust["id"]: RUST}
    response = await env.client.delete(f"/api/v1/memories/{rust['id']}", headers=env.alice)
    assert await response.get_json() is True
    assert await stored_vectors(env, alice_id) == {}
    listed = await env.client.get("/api/memory", headers=env.alice)
    assert await listed.get_json() == []
    # Gone: the spec answers 404, Open WebUI false.
    again = await env.client.delete(f"/api/memory/{tea['id']}", headers=env.alice)
    assert again.status_code == 404 and await again.get_json() == {"detail": "Memory not found"}
    owui = await env.client.delete(f"/api/v1/memories/{tea['id']}", headers=env.alice)
    assert owui.status_code == 200 and await owui.get_json() is False


async def test_delete_all_of_the_caller(memory_app):
    env = await memory_app()
    alice_id, bob_id = await user_id(env, env.alice), await user_id(env, env.bob)
    await add(env, env.alice, TEA)
    await add(env, env.alice, RUST)
    bobs = await add(env, env.bob, CAT)
    response = await env.client.delete("/api/v1/memories/delete/user", headers=env.alice)
    assert response.status_code == 200 and await response.get_json() is True
    assert await (await env.client.get("/api/memory", headers=env.alice)).get_json() == []
    assert await stored_vectors(env, alice_id) == {}
    assert await stored_vectors(env, bob_id) == {bobs["id"]: CAT}
    assert [m["id"] for m in await (await env.client.get("/api/memory", headers=env.bob)).get_json()] == [
        bobs["id"]
    ]
    # The spec's path does the same.
    response = await env.client.delete("/api/memory", headers=env.bob)
    assert await response.get_json() is True
    assert await stored_vectors(env, bob_id) == {}


async def test_query_finds_the_nearest_memories(memory_app):
    env = await memory_app()
    tea, rust, cat = [await add(env, env.alice, text) for text in (TEA, RUST, CAT)]
    for path in ("/api/memory/query", "/api/v1/memories/query"):
        response = await env.client.post(path, json={"content": "Which tea do I drink?"}, headers=env.alice)
        assert response.status_code == 200
        result = await response.get_json()
        assert result["ids"] == [[tea["id"]]]  # k defaults to 1
        assert result["documents"] == [[TEA]]
        assert result["metadatas"][0][0]["type"] == "context"
        assert 0 < result["distances"][0][0] <= 1
    response = await env.client.post(
        "/api/memory/query", json={"content": "my Rust compiler", "k": 2}, headers=env.alice
    )
    result = await response.get_json()
    assert result["ids"][0][0] == rust["id"] and len(result["ids"][0]) == 2
    assert cat["id"] != result["ids"][0][0]


async def test_query_without_memories_is_404(memory_app):
    env = await memory_app()
    response = await env.client.post(
        "/api/v1/memories/query", json={"content": "anything"}, headers=env.alice
    )
    assert response.status_code == 404
    assert await response.get_json() == {"detail": "No memories found for user"}

"""Re-embedding (reset, reindex) after the embedding changed, Open WebUI's text search, and a deleted
user's memories and vectors going with them."""

from __future__ import annotations

import pytest
from memory_helpers import add, embedded_texts, stored_vectors, user_id

from colonnade.plugins.rag.service import rag_service

pytestmark = pytest.mark.asyncio

TEA = "I drink green tea every morning."
RUST = "I am writing a compiler in Rust."
CAT = "My cat is called Miso."


def switch_embedding_model(env, model: str) -> None:
    """What an operator changing ``[plugins.rag] embedding_model`` does, without a restart."""
    rag_service(env.app.extensions["colonnade"]).embedder.model = model


async def test_reset_reembeds_after_the_embedding_changed(memory_app):
    env = await memory_app()
    alice_id = await user_id(env, env.alice)
    tea, rust = await add(env, env.alice, TEA), await add(env, env.alice, RUST)
    switch_embedding_model(env, "text-embedding-3-large")
    # Vectors of two embeddings are never mixed: the old collection is refused, with the way out.
    response = await env.client.post("/api/memory/query", json={"content": "tea"}, headers=env.alice)
    assert response.status_code == 409
    assert "text-embedding-3-small" in (await response.get_json())["detail"]
    response = await env.client.post("/api/v1/memories/add", json={"content": CAT}, headers=env.alice)
    assert response.status_code == 409
    before = len(embedded_texts(env.fake))
    response = await env.client.post("/api/v1/memories/reset", headers=env.alice)
    assert response.status_code == 200 and await response.get_json() is True
    assert sorted(embedded_texts(env.fake)[before:]) == sorted([TEA, RUST])
    info = await rag_service(env.app.extensions["colonnade"]).store.collection_info("user-memory-" + alice_id)
    assert info.embedding == "openai:text-embedding-3-large" and info.count == 2
    assert await stored_vectors(env, alice_id) == {tea["id"]: TEA, rust["id"]: RUST}
    response = await env.client.post("/api/memory/query", json={"content": "green tea"}, headers=env.alice)
    assert (await response.get_json())["ids"] == [[tea["id"]]]
    # Reset with no memories is fine too.
    assert await (await env.client.post("/api/memory/reset", headers=env.bob)).get_json() is True


async def test_an_admin_reindexes_everyone(memory_app, auth_headers):
    env = await memory_app()
    admin = await auth_headers(env.app, role="admin")
    alice_id, bob_id = await user_id(env, env.alice), await user_id(env, env.bob)
    tea, cat = await add(env, env.alice, TEA), await add(env, env.bob, CAT)
    switch_embedding_model(env, "text-embedding-3-large")
    response = await env.client.post("/api/v1/memories/reindex", headers=admin)
    assert response.status_code == 200
    assert await response.get_json() == {"status": True, "total_users": 2, "total_memories": 2}
    assert await stored_vectors(env, alice_id) == {tea["id"]: TEA}
    assert await stored_vectors(env, bob_id) == {cat["id"]: CAT}
    response = await env.client.post("/api/memory/query", json={"content": "cat"}, headers=env.bob)
    assert (await response.get_json())["ids"] == [[cat["id"]]]


async def test_text_search(memory_app):
    env = await memory_app()
    tea = await add(env, env.alice, TEA, type="user", path="food/drinks")
    rust = await add(env, env.alice, RUST, path="work")
    cat = await add(env, env.alice, CAT, type="user", path="food-and-pets")

    async def search(**body) -> list[str]:
        response = await env.client.post("/api/v1/memories/search", json=body, headers=env.alice)
        assert response.status_code == 200
        return sorted(item["id"] for item in await response.get_json())

    assert await search() == sorted([tea["id"], rust["id"], cat["id"]])
    assert await search(query="GREEN TEA") == [tea["id"]]
    assert await search(type="user") == sorted([tea["id"], cat["id"]])
    assert await search(type="context") == [rust["id"]]
    assert await search(path="food") == [tea["id"]]  # food and what is under it, not food-and-pets
    assert await search(path="food/drinks/") == [tea["id"]]
    assert await search(memory_id=rust["id"]) == [rust["id"]]
    assert await search(query="tea", type="context") == []
    assert len(await search(limit=2)) == 2


async def test_a_deleted_users_memories_go_with_them(memory_app, auth_headers):
    env = await memory_app()
    admin = await auth_headers(env.app, role="admin")
    alice_id = await user_id(env, env.alice)
    await add(env, env.alice, TEA)
    bobs = await add(env, env.bob, CAT)
    response = await env.client.delete(f"/api/v1/users/{alice_id}", headers=admin)
    assert response.status_code == 200, await response.get_data()
    rag = rag_service(env.app.extensions["colonnade"])
    assert await rag.store.collection_info("user-memory-" + alice_id) is None
    from colonnade.plugins.memory.models import Memory

    assert await Memory.filter(user_id=alice_id).count() == 0
    assert [m["id"] for m in await (await env.client.get("/api/memory", headers=env.bob)).get_json()] == [
        bobs["id"]
    ]

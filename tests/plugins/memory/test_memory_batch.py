"""Open WebUI's batched changes (``POST /api/v1/memories/update``) and path views (``/paths``,
``/path``): applied together after the whole batch is checked, vectors kept in step."""

from __future__ import annotations

import pytest
from memory_helpers import add, embedded_texts, stored_vectors, user_id

pytestmark = pytest.mark.asyncio

TEA = "I drink green tea every morning."
RUST = "I am writing a compiler in Rust."
CAT = "My cat is called Miso."


async def update(env, headers, operations, **extra):
    return await env.client.post(
        "/api/v1/memories/update", json={"operations": operations, **extra}, headers=headers
    )


async def test_a_batch_adds_replaces_moves_and_removes(memory_app):
    env = await memory_app()
    alice_id = await user_id(env, env.alice)
    tea, rust = await add(env, env.alice, TEA, path="food"), await add(env, env.alice, RUST)
    before = len(embedded_texts(env.fake))
    response = await update(
        env,
        env.alice,
        [
            {"action": "add", "content": CAT, "type": "user", "path": "pets"},
            {"action": "replace", "id": tea["id"], "content": "I drink oolong tea every morning."},
            {"action": "move", "id": rust["id"], "path": "work/projects"},
        ],
        source="tool",
    )
    assert response.status_code == 200, await response.get_data()
    results = await response.get_json()
    assert [(r["action"], r["status"]) for r in results] == [
        ("add", "created"),
        ("replace", "updated"),
        ("move", "updated"),
    ]
    cat = results[0]["memory"]
    assert (cat["content"], cat["type"], cat["path"]) == (CAT, "user", "pets")
    assert cat["meta"] == {"created_by": alice_id, "source": "tool"}
    assert results[1]["memory"]["content"] == "I drink oolong tea every morning."
    assert results[1]["memory"]["path"] == "food"  # replace keeps what it does not name
    assert results[2]["memory"]["path"] == "work/projects"
    # The new texts were embedded in one request; the move reused its vector.
    assert embedded_texts(env.fake)[before:] == [CAT, "I drink oolong tea every morning."]
    assert await stored_vectors(env, alice_id) == {
        tea["id"]: "I drink oolong tea every morning.",
        rust["id"]: RUST,
        cat["id"]: CAT,
    }
    response = await update(env, env.alice, [{"action": "remove", "id": rust["id"]}])
    assert await response.get_json() == [
        {"action": "remove", "status": "deleted", "memory": results[2]["memory"]}
    ]
    assert set(await stored_vectors(env, alice_id)) == {tea["id"], cat["id"]}
    listed = await (await env.client.get("/api/memory", headers=env.alice)).get_json()
    assert {item["id"] for item in listed} == {tea["id"], cat["id"]}


@pytest.mark.parametrize(
    ("operations", "status"),
    [
        ([], 422),
        ([{"action": "add"}], 422),
        ([{"action": "add", "content": "  "}], 422),
        ([{"action": "replace", "content": "x"}], 422),
        ([{"action": "remove"}], 422),
        ([{"action": "move", "id": "TEA"}], 422),
        ([{"action": "rename", "id": "TEA"}], 422),
        ([{"action": "remove", "id": "TEA"}, {"action": "move", "id": "TEA", "path": "x"}], 400),
        ([{"action": "add", "content": "x" * 101}], 400),
        ([{"action": "add", "content": "fine"}, {"action": "remove", "id": "BOBS"}], 404),
        ([{"action": "add", "content": "fine"}, {"action": "remove", "id": "no-such-memory"}], 404),
    ],
)
async def test_a_bad_batch_changes_nothing(memory_app, operations, status):
    env = await memory_app({"max_content_length": 100})
    alice_id = await user_id(env, env.alice)
    tea = await add(env, env.alice, TEA)
    bobs = await add(env, env.bob, CAT)
    named = {"TEA": tea["id"], "BOBS": bobs["id"]}
    operations = [{key: named.get(value, value) for key, value in op.items()} for op in operations]
    response = await update(env, env.alice, operations)
    assert response.status_code == status
    assert isinstance((await response.get_json())["detail"], str)
    listed = await (await env.client.get("/api/memory", headers=env.alice)).get_json()
    assert listed == [tea]
    assert await stored_vectors(env, alice_id) == {tea["id"]: TEA}
    bobs_list = await (await env.client.get("/api/memory", headers=env.bob)).get_json()
    assert bobs_list == [bobs]


async def test_an_embedding_failure_fails_the_whole_batch(memory_app):
    env = await memory_app()
    tea = await add(env, env.alice, TEA)
    env.fake.app.control.fail(503)
    response = await update(
        env,
        env.alice,
        [{"action": "remove", "id": tea["id"]}, {"action": "add", "content": CAT}],
    )
    assert response.status_code == 502
    env.fake.app.control.status = None
    assert await (await env.client.get("/api/memory", headers=env.alice)).get_json() == [tea]


async def test_paths_and_path(memory_app):
    env = await memory_app()
    tea = await add(env, env.alice, TEA, path="food/drinks")
    cake = await add(env, env.alice, "I like cake.", path="food", type="user")
    rust = await add(env, env.alice, RUST, path="work")
    await add(env, env.alice, CAT)  # no path
    await add(env, env.bob, "Bob likes food.", path="food")

    response = await env.client.post("/api/v1/memories/paths", json={}, headers=env.alice)
    groups = await response.get_json()
    assert [(group["path"], group["count"]) for group in groups] == [
        ("food", 1),
        ("food/drinks", 1),
        ("work", 1),
    ]
    assert groups[0]["updated_at"] == cake["updated_at"]
    response = await env.client.post(
        "/api/v1/memories/paths", json={"query": "FOOD", "type": "context"}, headers=env.alice
    )
    assert [group["path"] for group in await response.get_json()] == ["food/drinks"]
    response = await env.client.post("/api/v1/memories/paths", json={"limit": 1}, headers=env.alice)
    assert len(await response.get_json()) == 1

    response = await env.client.post("/api/v1/memories/path", json={"path": "food"}, headers=env.alice)
    found = await response.get_json()
    assert found["path"] == "food" and found["count"] == 2
    assert sorted(memory["id"] for memory in found["memories"]) == sorted([tea["id"], cake["id"]])
    response = await env.client.post(
        "/api/v1/memories/path", json={"path": "food/", "include_children": False}, headers=env.alice
    )
    assert [memory["id"] for memory in (await response.get_json())["memories"]] == [cake["id"]]
    response = await env.client.post(
        "/api/v1/memories/path", json={"path": "food", "type": "context"}, headers=env.alice
    )
    assert [memory["id"] for memory in (await response.get_json())["memories"]] == [tea["id"]]
    response = await env.client.post(
        "/api/v1/memories/path", json={"path": "food", "limit": 1}, headers=env.alice
    )
    found = await response.get_json()
    assert found["count"] == 2 and len(found["memories"]) == 1
    response = await env.client.post("/api/memory/path", json={"path": "work"}, headers=env.alice)
    assert [memory["id"] for memory in (await response.get_json())["memories"]] == [rust["id"]]
    for body in ({}, {"path": ""}, {"path": "food", "limit": 0}):
        response = await env.client.post("/api/v1/memories/path", json=body, headers=env.alice)
        assert response.status_code == 422


async def test_a_removed_memory_is_answered_as_it_was_stored(memory_app, monkeypatch):
    """A remove in a later second than the memory's last change must not restamp the answer (this
    failed intermittently above, whenever the clock ticked between the two batches)."""
    from colonnade.plugins.memory import batch

    env = await memory_app()
    stored = await add(env, env.alice, RUST)
    later = stored["updated_at"] + 60
    monkeypatch.setattr(batch, "now", lambda: later)
    response = await update(env, env.alice, [{"action": "remove", "id": stored["id"]}])
    assert await response.get_json() == [{"action": "remove", "status": "deleted", "memory": stored}]

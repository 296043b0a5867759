"""Knowledge bases at ``/api/knowledge`` and ``/api/v1/knowledge``: CRUD, files, sharing and vectors."""

from __future__ import annotations

import pytest
import pytest_asyncio
from rag_helpers import WordEmbeddings, upload

pytestmark = pytest.mark.asyncio

CATS = "Cats sleep for most of the day. A cat purrs when it is content."
TAXES = "Tax returns are due in April. Late filing brings a penalty."


class World:
    def __init__(self, app, alice, bob, admin):
        self.app = app
        self.client = app.test_client()
        self.alice, self.bob, self.admin = alice, bob, admin
        self.rag = app.extensions["colonnade"].state("rag")

    async def create(self, headers=None, **body):
        response = await self.client.post(
            "/api/knowledge",
            json={"name": "Pets", "description": "About pets", **body},
            headers=headers or self.alice,
        )
        assert response.status_code == 200, await response.get_data()
        return await response.get_json()

    async def query(self, headers, knowledge_id, text="cat", k=5):
        return await self.client.post(
            "/api/rag/query", json={"query": text, "knowledge_ids": [knowledge_id], "k": k}, headers=headers
        )


@pytest_asyncio.fixture
async def world(rag_app, auth_headers):
    app = await rag_app(
        {"users_can_create_knowledge": True}, functions=[WordEmbeddings()], load_plugins=["files"]
    )
    alice = await auth_headers(app, user_id="alice-id")
    bob = await auth_headers(app, user_id="bob-id")
    admin = await auth_headers(app, role="admin", user_id="admin-id")
    return World(app, alice, bob, admin)


async def test_create_read_update_list_delete(world):
    created = await world.create()
    assert created["name"] == "Pets" and created["user_id"] == "alice-id" and created["access_grants"] == []
    assert created["write_access"] is True and created["files"] is None
    kid = created["id"]
    read = await (await world.client.get(f"/api/v1/knowledge/{kid}", headers=world.alice)).get_json()
    assert read["description"] == "About pets" and read["files"] == []
    updated = await world.client.post(
        f"/api/v1/knowledge/{kid}/update",
        json={"name": "Cats", "description": "Only cats"},
        headers=world.alice,
    )
    assert (await updated.get_json())["name"] == "Cats"
    patched = await world.client.post(
        f"/api/knowledge/{kid}", json={"description": "Cats only"}, headers=world.alice
    )
    assert (await patched.get_json())["name"] == "Cats"
    listed = await (await world.client.get("/api/knowledge", headers=world.alice)).get_json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert (item["id"], item["file_count"], item["user"]["id"]) == (kid, 0, "alice-id")
    assert (await (await world.client.get("/api/v1/knowledge/", headers=world.bob)).get_json()) == {
        "items": [],
        "total": 0,
    }
    assert (await world.client.get(f"/api/knowledge/{kid}", headers=world.bob)).status_code == 404
    deleted = await world.client.delete(f"/api/v1/knowledge/{kid}/delete", headers=world.alice)
    assert (deleted.status_code, await deleted.get_json()) == (200, True)
    assert (await world.client.get(f"/api/knowledge/{kid}", headers=world.alice)).status_code == 404


async def test_users_need_the_permission_to_create(rag_app, auth_headers):
    app = await rag_app(functions=[WordEmbeddings()], load_plugins=["files"])
    client = app.test_client()
    user = await auth_headers(app)
    response = await client.post("/api/v1/knowledge/create", json={"name": "Mine"}, headers=user)
    assert response.status_code == 403
    admin = await auth_headers(app, role="admin")
    group = await (
        await client.post(
            "/api/v1/groups/create",
            json={"name": "Writers", "permissions": {"workspace": {"knowledge": True}}},
            headers=admin,
        )
    ).get_json()
    member = await auth_headers(app, user_id="member-id")
    await client.post(
        f"/api/v1/groups/id/{group['id']}/users/add", json={"user_ids": ["member-id"]}, headers=admin
    )
    response = await client.post("/api/v1/knowledge/create", json={"name": "Mine"}, headers=member)
    assert response.status_code == 200


async def test_files_in_a_knowledge_base_are_searched_and_removed(world):
    kid = (await world.create())["id"]
    cats = await upload(world.client, world.alice, "cats.txt", CATS.encode(), "text/plain")
    taxes = await upload(world.client, world.alice, "taxes.txt", TAXES.encode(), "text/plain")
    for record in (cats, taxes):
        response = await world.client.post(
            f"/api/v1/knowledge/{kid}/file/add", json={"file_id": record["id"]}, headers=world.alice
        )
        assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    assert [file["id"] for file in body["files"]] == [cats["id"], taxes["id"]]
    assert body["files"][0]["data"]["status"] == "completed"

    found = await (await world.query(world.alice, kid, "why do cats purr", k=1)).get_json()
    assert found["documents"] == [[CATS]]
    assert (
        found["metadatas"][0][0]["knowledge_id"] == kid and found["metadatas"][0][0]["file_id"] == cats["id"]
    )

    removed = await world.client.post(
        f"/api/v1/knowledge/{kid}/file/remove?delete_file=false",
        json={"file_id": cats["id"]},
        headers=world.alice,
    )
    assert [file["id"] for file in (await removed.get_json())["files"]] == [taxes["id"]]
    found = await (await world.query(world.alice, kid, "cats purr")).get_json()
    assert found["documents"] == [[TAXES]]
    assert (await world.client.get(f"/api/v1/files/{cats['id']}", headers=world.alice)).status_code == 200

    # Deleting a file takes its chunks out of every knowledge base.
    await world.client.delete(f"/api/v1/files/{taxes['id']}", headers=world.alice)
    assert (await (await world.query(world.alice, kid)).get_json())["documents"] == [[]]
    assert (await (await world.client.get(f"/api/knowledge/{kid}/files", headers=world.alice)).get_json())[
        "total"
    ] == 0


async def test_sharing_with_a_group(world):
    group = await (
        await world.client.post("/api/v1/groups/create", json={"name": "Readers"}, headers=world.admin)
    ).get_json()
    await world.client.post(
        f"/api/v1/groups/id/{group['id']}/users/add", json={"user_ids": ["bob-id"]}, headers=world.admin
    )
    grants = [{"principal_type": "group", "principal_id": group["id"], "permission": "read"}]
    kid = (await world.create(access_grants=grants))["id"]
    cats = await upload(world.client, world.alice, "cats.txt", CATS.encode(), "text/plain")
    await world.client.post(
        f"/api/v1/knowledge/{kid}/file/add", json={"file_id": cats["id"]}, headers=world.alice
    )

    read = await (await world.client.get(f"/api/v1/knowledge/{kid}", headers=world.bob)).get_json()
    assert read["write_access"] is False and read["access_grants"][0]["principal_id"] == group["id"]
    assert (await (await world.query(world.bob, kid)).get_json())["documents"] == [[CATS]]
    refused = await world.client.post(
        f"/api/v1/knowledge/{kid}/update", json={"name": "Mine now"}, headers=world.bob
    )
    assert refused.status_code == 403
    # Bob's own file cannot go into a knowledge base he may only read, nor Alice's file into his.
    own = await upload(world.client, world.bob, "bob.txt", b"bob's notes", "text/plain")
    refused = await world.client.post(
        f"/api/v1/knowledge/{kid}/file/add", json={"file_id": own["id"]}, headers=world.bob
    )
    assert refused.status_code == 403
    # The file's own collection stays Alice's.
    refused = await world.client.post(
        "/api/rag/query", json={"query": "cat", "file_ids": [cats["id"]]}, headers=world.bob
    )
    assert refused.status_code == 404

    await world.client.post(
        f"/api/v1/knowledge/{kid}/access/update", json={"access_grants": []}, headers=world.alice
    )
    assert (await world.query(world.bob, kid)).status_code == 404


async def test_reset_and_delete_remove_the_vectors(world):
    kid = (await world.create())["id"]
    cats = await upload(world.client, world.alice, "cats.txt", CATS.encode(), "text/plain")
    await world.client.post(
        f"/api/v1/knowledge/{kid}/file/add", json={"file_id": cats["id"]}, headers=world.alice
    )
    store = world.rag.service.store
    assert await store.count(kid) == 1
    reset = await (await world.client.post(f"/api/v1/knowledge/{kid}/reset", headers=world.alice)).get_json()
    assert reset["files"] == [] and kid not in await store.list_collections()
    await world.client.post(
        f"/api/v1/knowledge/{kid}/file/add", json={"file_id": cats["id"]}, headers=world.alice
    )
    assert await store.count(kid) == 1
    assert (await world.client.delete(f"/api/knowledge/{kid}", headers=world.bob)).status_code == 404
    assert (await world.client.delete(f"/api/knowledge/{kid}", headers=world.alice)).status_code == 200
    assert kid not in await store.list_collections()
    assert f"file-{cats['id']}" in await store.list_collections()  # the file itself stays indexed


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/knowledge", {}, 422),
        ("/api/knowledge", {"name": ""}, 422),
        (
            "/api/knowledge",
            {
                "name": "x",
                "access_grants": [{"principal_type": "robot", "principal_id": "r", "permission": "read"}],
            },
            400,
        ),
        (
            "/api/knowledge",
            {
                "name": "x",
                "access_grants": [{"principal_type": "user", "principal_id": "*", "permission": "read"}],
            },
            403,
        ),
    ],
)
async def test_bad_knowledge_requests(world, path, body, status):
    response = await world.client.post(path, json=body, headers=world.alice)
    assert response.status_code == status, await response.get_data()
    assert isinstance((await response.get_json())["detail"], str)
    assert (await (await world.client.get("/api/knowledge", headers=world.alice)).get_json())["total"] == 0


async def test_adding_a_missing_or_foreign_file_is_a_404(world):
    kid = (await world.create())["id"]
    theirs = await upload(world.client, world.bob, "bob.txt", b"bob's notes", "text/plain")
    for file_id in ("no-such-file", theirs["id"]):
        response = await world.client.post(
            f"/api/v1/knowledge/{kid}/file/add", json={"file_id": file_id}, headers=world.alice
        )
        assert response.status_code == 404
    assert (await (await world.client.get(f"/api/knowledge/{kid}/files", headers=world.alice)).get_json())[
        "total"
    ] == 0

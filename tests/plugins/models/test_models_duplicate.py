"""``POST /api/models/:id/duplicate``: a new id, the same content, owned by the caller."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio

CONTENT = ("base_model_id", "params", "meta", "is_active")


async def test_duplicate_copies_content_under_a_new_id(client, creator, create_model):
    original = await create_model(creator, "writer")
    response = await client.post("/api/models/writer/duplicate", headers=creator.headers)
    assert response.status_code == 200, await response.get_data()
    copy = await response.get_json()
    assert copy["id"] == "writer-copy"
    assert copy["name"] == "Support bot (Copy)"
    assert {key: copy[key] for key in CONTENT} == {key: original[key] for key in CONTENT}
    assert copy["user_id"] == creator.id
    # The copy is a separate row: changing it leaves the original alone.
    await client.post("/api/models/writer-copy", json={"params": {}}, headers=creator.headers)
    assert (await (await client.get("/api/models/writer", headers=creator.headers)).get_json()) == original

    again = await (await client.post("/api/models/writer/duplicate", headers=creator.headers)).get_json()
    assert again["id"] == "writer-copy-2"


async def test_duplicate_takes_an_id_and_name(client, creator, create_model):
    await create_model(creator, "writer")
    response = await client.post(
        "/api/models/writer/duplicate", json={"id": "writer-fr", "name": "Rédacteur"}, headers=creator.headers
    )
    assert response.status_code == 200
    copy = await response.get_json()
    assert (copy["id"], copy["name"]) == ("writer-fr", "Rédacteur")
    response = await client.post(
        "/api/models/writer/duplicate", json={"id": "writer-fr"}, headers=creator.headers
    )
    assert response.status_code == 409
    response = await client.post(
        "/api/models/writer/duplicate", json={"id": "has space"}, headers=creator.headers
    )
    assert response.status_code == 422
    response = await client.post(
        "/api/models/writer/duplicate",
        data="{not json",
        headers={**creator.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    search = await (await client.get("/api/models/search", headers=creator.headers)).get_json()
    assert sorted(item["id"] for item in search["items"]) == ["writer", "writer-fr"]


async def test_the_copy_belongs_to_the_caller_and_is_private(
    client, creator, new_caller, make_group, create_model
):
    reader = await new_caller("user")
    group_id = await make_group([reader], {"workspace": {"models": True}})
    original = await create_model(creator, "shared", access_control={"read": {"group_ids": [group_id]}})
    response = await client.post("/api/models/shared/duplicate", headers=reader.headers)
    assert response.status_code == 200
    copy = await response.get_json()
    assert copy["user_id"] == reader.id
    assert copy["write_access"] is True
    assert copy["access_grants"] == []
    assert copy["meta"] == original["meta"]
    # A read-only caller never saw the system prompt, so the copy does not carry it either.
    assert copy["params"] == {}
    assert (await client.get(f"/api/models/{copy['id']}", headers=creator.headers)).status_code == 404


async def test_duplicating_an_unreadable_model_is_404(client, creator, new_caller, make_group, create_model):
    await create_model(creator, "private")
    other = await new_caller("user")
    await make_group([other], {"workspace": {"models": True}})
    response = await client.post("/api/models/private/duplicate", headers=other.headers)
    assert response.status_code == 404
    response = await client.post("/api/models/missing/duplicate", headers=creator.headers)
    assert response.status_code == 404

"""Open WebUI's workspace model routes under ``/api/v1/models`` (API.md 3.12.3)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


async def test_create_read_update_toggle_delete(client, creator, model_body):
    response = await client.post("/api/v1/models/create", json=model_body("owui"), headers=creator.headers)
    assert response.status_code == 200
    created = await response.get_json()

    response = await client.get("/api/v1/models/model", query_string={"id": "owui"}, headers=creator.headers)
    assert response.status_code == 200
    assert await response.get_json() == created

    # Open WebUI 0.12 sends the full form with the id in the body; older clients put it in ?id=.
    form = {**created, "name": "Renamed", "params": {"system": "Short answers."}}
    response = await client.post("/api/v1/models/model/update", json=form, headers=creator.headers)
    assert response.status_code == 200, await response.get_data()
    assert (await response.get_json())["name"] == "Renamed"
    response = await client.post(
        "/api/v1/models/model/update",
        query_string={"id": "owui"},
        json={"name": "Again"},
        headers=creator.headers,
    )
    assert (await response.get_json())["name"] == "Again"

    response = await client.post(
        "/api/v1/models/model/toggle", query_string={"id": "owui"}, headers=creator.headers
    )
    assert (await response.get_json())["is_active"] is False

    response = await client.post("/api/v1/models/model/delete", json={"id": "owui"}, headers=creator.headers)
    assert response.status_code == 200
    assert await response.get_json() is True
    response = await client.get("/api/v1/models/model", query_string={"id": "owui"}, headers=creator.headers)
    assert response.status_code == 404


async def test_delete_with_the_id_in_the_query(client, creator, create_model):
    await create_model(creator, "old-client")
    response = await client.delete(
        "/api/v1/models/model/delete", query_string={"id": "old-client"}, headers=creator.headers
    )
    assert await response.get_json() is True
    response = await client.post("/api/v1/models/model/delete", json={}, headers=creator.headers)
    assert response.status_code == 422


async def test_bad_bodies_and_missing_ids(client, creator, create_model):
    created = await create_model(creator, "steady")
    response = await client.post(
        "/api/v1/models/model/update", json={"name": "no id"}, headers=creator.headers
    )
    assert response.status_code == 422
    response = await client.post(
        "/api/v1/models/model/update",
        json={"id": "steady", "params": {"temperature": -1}},
        headers=creator.headers,
    )
    assert response.status_code == 422
    assert (await client.get("/api/v1/models/model", headers=creator.headers)).status_code == 422
    response = await client.post(
        "/api/v1/models/create", json={"id": "x y", "name": ""}, headers=creator.headers
    )
    assert response.status_code == 422
    assert len((await response.get_json())["errors"]) == 2
    assert await (await client.get("/api/models/steady", headers=creator.headers)).get_json() == created


async def test_list_has_only_presets_and_matches_open_webui_filters(client, admin, creator, create_model):
    await create_model(creator, "coder", name="Coder", meta={"tags": [{"name": "code"}]})
    await create_model(admin, "gpt-4o", base_model_id=None, name="GPT-4o (house settings)")
    response = await client.get("/api/v1/models/list", headers=admin.headers)
    page = await response.get_json()
    assert page["total"] == 1
    assert [item["id"] for item in page["items"]] == ["coder"]
    assert page["items"][0]["user"]["id"] == creator.id
    response = await client.get(
        "/api/v1/models/list", query_string={"query": "nothing"}, headers=admin.headers
    )
    assert await response.get_json() == {"items": [], "total": 0}
    response = await client.get("/api/v1/models/list", query_string={"tag": "CODE"}, headers=creator.headers)
    assert (await response.get_json())["total"] == 1

    tags = await (await client.get("/api/v1/models/tags", headers=creator.headers)).get_json()
    assert tags == ["code"]


async def test_tags_list_only_readable_models(client, creator, new_caller, create_model):
    await create_model(creator, "tagged")
    other = await new_caller("user")
    assert await (await client.get("/api/v1/models/tags", headers=creator.headers)).get_json() == [
        "internal",
        "support",
    ]
    assert await (await client.get("/api/v1/models/tags", headers=other.headers)).get_json() == []


async def test_admin_only_routes(client, admin, creator, create_model):
    await create_model(creator, "one")
    assert (await client.get("/api/v1/models/all", headers=creator.headers)).status_code == 403
    everything = await (await client.get("/api/v1/models/all", headers=admin.headers)).get_json()
    assert [model["id"] for model in everything] == ["one"]
    assert (await client.delete("/api/v1/models/delete/all", headers=creator.headers)).status_code == 403
    assert (await client.get("/api/models/one", headers=creator.headers)).status_code == 200
    response = await client.delete("/api/v1/models/delete/all", headers=admin.headers)
    assert await response.get_json() is True
    assert (await client.get("/api/models/one", headers=creator.headers)).status_code == 404


async def test_access_update(client, creator, new_caller, make_group, create_model):
    reader = await new_caller("user")
    group_id = await make_group([reader])
    await create_model(creator, "shared")
    grants = [{"principal_type": "group", "principal_id": group_id, "permission": "read"}]
    response = await client.post(
        "/api/v1/models/model/access/update",
        json={"id": "shared", "access_grants": grants},
        headers=creator.headers,
    )
    assert response.status_code == 200
    assert (await response.get_json())["access_control"]["read"]["group_ids"] == [group_id]
    response = await client.get("/api/v1/models/model", query_string={"id": "shared"}, headers=reader.headers)
    assert response.status_code == 200
    # The reader may not change who else reads.
    response = await client.post(
        "/api/v1/models/model/access/update",
        json={"id": "shared", "access_grants": []},
        headers=reader.headers,
    )
    assert response.status_code == 403
    # An empty list makes the model private again.
    response = await client.post(
        "/api/v1/models/model/access/update",
        json={"id": "shared", "access_grants": []},
        headers=creator.headers,
    )
    assert (await response.get_json())["access_grants"] == []
    response = await client.get("/api/v1/models/model", query_string={"id": "shared"}, headers=reader.headers)
    assert response.status_code == 404


async def test_another_users_model_is_404_on_open_webui_paths(client, creator, new_caller, create_model):
    await create_model(creator, "private")
    other = await new_caller("user")
    assert (
        await client.get("/api/v1/models/model", query_string={"id": "private"}, headers=other.headers)
    ).status_code == 404
    response = await client.post(
        "/api/v1/models/model/update", json={"id": "private", "name": "x"}, headers=other.headers
    )
    assert response.status_code == 404
    response = await client.post("/api/v1/models/model/delete", json={"id": "private"}, headers=other.headers)
    assert response.status_code == 404
    response = await client.post(
        "/api/v1/models/model/toggle", query_string={"id": "private"}, headers=other.headers
    )
    assert response.status_code == 404
    page = await (await client.get("/api/v1/models/list", headers=other.headers)).get_json()
    assert page == {"items": [], "total": 0}

"""Create, read, update and delete workspace models through ``/api/models`` (the spec paths)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


async def test_create_read_update_delete(client, creator, create_model):
    created = await create_model(creator, "support-bot")
    assert created["id"] == "support-bot"
    assert created["user_id"] == creator.id
    assert created["base_model_id"] == "llama3.1:8b"
    assert created["params"] == {"system": "You are a helpful support agent.", "temperature": 0.2}
    assert created["meta"]["tags"] == [{"name": "Support"}, {"name": "internal"}]
    assert created["access_control"] == {
        "read": {"group_ids": [], "user_ids": []},
        "write": {"group_ids": [], "user_ids": []},
    }
    assert created["access_grants"] == []
    assert created["is_active"] is True
    assert created["write_access"] is True
    assert created["user"]["id"] == creator.id
    assert created["created_at"] == created["updated_at"] > 0

    response = await client.get("/api/models/support-bot", headers=creator.headers)
    assert response.status_code == 200
    assert await response.get_json() == created

    response = await client.post(
        "/api/models/support-bot",
        json={"name": "Support bot v2", "params": {"system": "Be brief.", "top_p": 0.9, "num_ctx": 8192}},
        headers=creator.headers,
    )
    assert response.status_code == 200, await response.get_data()
    updated = await response.get_json()
    assert updated["name"] == "Support bot v2"
    # params are replaced whole; unknown keys (Ollama options) are kept as given.
    assert updated["params"] == {"system": "Be brief.", "top_p": 0.9, "num_ctx": 8192}
    assert updated["meta"] == created["meta"]
    assert updated["base_model_id"] == "llama3.1:8b"

    response = await client.delete("/api/models/support-bot", headers=creator.headers)
    assert response.status_code == 200
    assert await response.get_json() is True
    response = await client.get("/api/models/support-bot", headers=creator.headers)
    assert response.status_code == 404
    assert "detail" in await response.get_json()


async def test_ids_may_contain_slashes_and_colons(client, creator, create_model):
    await create_model(creator, "team/llama3.1:8b-support")
    response = await client.get("/api/models/team/llama3.1:8b-support", headers=creator.headers)
    assert response.status_code == 200
    assert (await response.get_json())["id"] == "team/llama3.1:8b-support"
    response = await client.post(
        "/api/models/team/llama3.1:8b-support", json={"is_active": False}, headers=creator.headers
    )
    assert (await response.get_json())["is_active"] is False


async def test_updates_change_only_the_fields_given(client, creator, create_model):
    created = await create_model(creator)
    url = f"/api/models/{created['id']}"
    response = await client.post(url, json={"meta": {"description": "new"}}, headers=creator.headers)
    updated = await response.get_json()
    assert updated["meta"] == {"description": "new"}
    assert updated["params"] == created["params"]
    assert updated["name"] == created["name"]
    assert updated["updated_at"] >= created["updated_at"]
    # Open WebUI clients send back the whole object they read: extra keys are ignored.
    response = await client.post(url, json={**updated, "name": "Renamed"}, headers=creator.headers)
    assert response.status_code == 200
    assert (await response.get_json())["name"] == "Renamed"


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": None},
        {"params": {"temperature": "hot"}},
        {"params": {"temperature": 9}},
        {"params": []},
        {"meta": {"tags": "support"}},
        {"is_active": "sometimes"},
        {"access_control": {"read": {"group_ids": "everyone"}}},
        {"access_grants": [{"principal_type": "planet", "principal_id": "x", "permission": "read"}]},
        {"id": "another-id"},
        {"base_model_id": "has space"},
        ["not", "an", "object"],
    ],
)
async def test_bad_update_bodies_are_refused_and_change_nothing(client, creator, create_model, body):
    created = await create_model(creator)
    url = f"/api/models/{created['id']}"
    response = await client.post(url, json=body, headers=creator.headers)
    assert 400 <= response.status_code < 500
    assert isinstance((await response.get_json())["detail"], str)
    assert await (await client.get(url, headers=creator.headers)).get_json() == created


async def test_update_of_non_json_body_is_a_4xx(client, creator, create_model):
    created = await create_model(creator)
    url = f"/api/models/{created['id']}"
    response = await client.post(
        url, data="name=x", headers={**creator.headers, "Content-Type": "text/plain"}
    )
    assert 400 <= response.status_code < 500
    assert await (await client.get(url, headers=creator.headers)).get_json() == created


@pytest.mark.parametrize(
    "overrides",
    [
        {"id": ""},
        {"id": "has space"},
        {"id": "tab\there"},
        {"id": "x" * 257},
        {"name": ""},
        {"name": "n" * 256},
        {"params": {"max_tokens": 0}},
        {"params": {"stop": 5}},
        {"meta": {"tags": [{"label": "no name"}]}},
        {"meta": "nope"},
    ],
)
async def test_bad_create_bodies_are_422_and_create_nothing(client, creator, model_body, overrides):
    body = model_body("will-not-exist", **overrides)
    response = await client.post("/api/models", json=body, headers=creator.headers)
    assert response.status_code == 422
    data = await response.get_json()
    assert isinstance(data["detail"], str) and data["errors"]
    search = await (await client.get("/api/models/search", headers=creator.headers)).get_json()
    assert search == {"items": [], "total": 0}


async def test_create_without_a_body_or_name_is_a_4xx(client, creator):
    response = await client.post("/api/models", headers=creator.headers)
    assert 400 <= response.status_code < 500
    response = await client.post("/api/models", json={"id": "x"}, headers=creator.headers)
    assert response.status_code == 422


async def test_taken_and_reserved_ids(client, creator, create_model, model_body):
    await create_model(creator, "taken")
    response = await client.post(
        "/api/models", json=model_body("taken", name="Other"), headers=creator.headers
    )
    assert response.status_code == 409
    assert "already registered" in (await response.get_json())["detail"]
    model = await (await client.get("/api/models/taken", headers=creator.headers)).get_json()
    assert model["name"] == "Support bot"
    for reserved in ("search", "validate"):
        response = await client.post("/api/models", json=model_body(reserved), headers=creator.headers)
        assert response.status_code == 422
        assert (await response.get_json())["errors"][0]["type"] == "id_reserved"


async def test_creating_needs_the_workspace_models_permission(client, new_caller, model_body, models_app):
    plain = await new_caller("user")
    response = await client.post("/api/models", json=model_body("nope"), headers=plain.headers)
    assert response.status_code == 403
    pending = await new_caller("pending")
    response = await client.post("/api/models", json=model_body("nope"), headers=pending.headers)
    assert response.status_code == 403
    response = await client.post("/api/models", json=model_body("nope"))
    assert response.status_code == 401
    admin = await new_caller("admin")
    response = await client.post("/api/models", json=model_body("yes"), headers=admin.headers)
    assert response.status_code == 200


async def test_operators_can_let_every_user_create(make_app, auth_headers, model_body):
    app = await make_app(load_plugins=["models"], config={"plugins": {"models": {"users_can_create": True}}})
    headers = await auth_headers(app, role="user")
    response = await app.test_client().post("/api/models", json=model_body("mine"), headers=headers)
    assert response.status_code == 200


async def test_only_admins_decorate_a_base_model_without_base_model_id(client, creator, admin, model_body):
    response = await client.post(
        "/api/models", json=model_body("llama3.1:8b", base_model_id=None), headers=creator.headers
    )
    assert response.status_code == 422
    assert (await response.get_json())["errors"][0]["loc"] == ["base_model_id"]
    response = await client.post(
        "/api/models", json=model_body("llama3.1:8b", base_model_id=None), headers=admin.headers
    )
    assert response.status_code == 200
    assert (await response.get_json())["base_model_id"] is None


async def test_a_model_cannot_be_its_own_base(client, creator, model_body):
    response = await client.post(
        "/api/models", json=model_body("loop", base_model_id="loop"), headers=creator.headers
    )
    assert response.status_code == 422
    assert (await response.get_json())["errors"][0]["type"] == "self_reference"


async def test_toggle_flips_is_active(client, creator, create_model):
    created = await create_model(creator)
    response = await client.post(f"/api/models/{created['id']}/toggle", headers=creator.headers)
    assert (await response.get_json())["is_active"] is False
    response = await client.post(f"/api/models/{created['id']}/toggle", headers=creator.headers)
    assert (await response.get_json())["is_active"] is True


async def test_the_merged_model_list_is_not_served_here(client, creator):
    response = await client.get("/api/models", headers=creator.headers)
    assert response.status_code in (404, 405)
    response = await client.get("/api/v1/models", headers=creator.headers)
    assert response.status_code in (404, 405)


async def test_deleting_the_owner_deletes_their_models(client, creator, admin, create_model):
    created = await create_model(creator)
    response = await client.delete(f"/api/users/{creator.id}", headers=admin.headers)
    assert response.status_code == 200
    response = await client.get(f"/api/models/{created['id']}", headers=admin.headers)
    assert response.status_code == 404

"""Who sees and changes a workspace model: owner, admins, grants to users and groups; others get 404."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


async def test_a_private_model_is_404_to_another_user(client, creator, new_caller, create_model):
    model = await create_model(creator)
    other = await new_caller("user")
    url = f"/api/models/{model['id']}"
    for method, path, body in [
        ("GET", url, None),
        ("POST", url, {"name": "hijacked"}),
        ("DELETE", url, None),
        ("POST", f"{url}/toggle", None),
        ("POST", f"{url}/duplicate", None),
    ]:
        response = await client.open(path, method=method, json=body, headers=other.headers)
        assert response.status_code in (403, 404), (method, path)
        if method != "POST" or not path.endswith("/duplicate"):
            assert response.status_code == 404, (method, path)
    search = await (await client.get("/api/models/search", headers=other.headers)).get_json()
    assert search == {"items": [], "total": 0}
    unchanged = await (await client.get(url, headers=creator.headers)).get_json()
    assert unchanged == model


async def test_admins_read_and_write_every_model(client, creator, admin, create_model):
    model = await create_model(creator)
    url = f"/api/models/{model['id']}"
    response = await client.get(url, headers=admin.headers)
    assert (await response.get_json())["write_access"] is True
    response = await client.post(url, json={"name": "By admin"}, headers=admin.headers)
    assert (await response.get_json())["name"] == "By admin"
    assert (await response.get_json())["user_id"] == creator.id


async def test_a_group_read_grant_allows_reading_but_not_writing(
    client, creator, new_caller, make_group, create_model
):
    reader = await new_caller("user")
    outsider = await new_caller("user")
    group_id = await make_group([reader])
    model = await create_model(creator, access_control={"read": {"group_ids": [group_id], "user_ids": []}})
    assert model["access_control"]["read"] == {"group_ids": [group_id], "user_ids": []}
    url = f"/api/models/{model['id']}"

    response = await client.get(url, headers=reader.headers)
    assert response.status_code == 200
    seen = await response.get_json()
    assert seen["write_access"] is False
    assert seen["name"] == model["name"]
    # The system prompt is the owner's work: read-only callers do not see params.
    assert seen["params"] == {}

    response = await client.post(url, json={"name": "changed"}, headers=reader.headers)
    assert response.status_code == 403
    response = await client.delete(url, headers=reader.headers)
    assert response.status_code == 403
    assert (await client.get(url, headers=outsider.headers)).status_code == 404
    assert (await (await client.get(url, headers=creator.headers)).get_json()) == model

    listed = await (await client.get("/api/models/search", headers=reader.headers)).get_json()
    assert [item["id"] for item in listed["items"]] == [model["id"]]
    assert listed["items"][0]["write_access"] is False


async def test_a_write_grant_allows_changing_and_deleting(
    client, creator, new_caller, make_group, create_model
):
    writer = await new_caller("user")
    group_id = await make_group([writer])
    model = await create_model(creator, access_control={"write": {"group_ids": [group_id]}})
    url = f"/api/models/{model['id']}"
    response = await client.get(url, headers=writer.headers)
    assert (await response.get_json())["write_access"] is True
    assert (await response.get_json())["params"] == model["params"]
    response = await client.post(url, json={"name": "Edited by a writer"}, headers=writer.headers)
    assert response.status_code == 200
    assert (await response.get_json())["user_id"] == creator.id
    assert (await client.delete(url, headers=writer.headers)).status_code == 200


async def test_a_user_grant_in_open_webui_012_shape(client, creator, new_caller, create_model):
    reader = await new_caller("user")
    grants = [{"principal_type": "user", "principal_id": reader.id, "permission": "read"}]
    model = await create_model(creator, access_grants=grants)
    assert [(g["principal_type"], g["principal_id"], g["permission"]) for g in model["access_grants"]] == [
        ("user", reader.id, "read")
    ]
    assert model["access_control"]["read"]["user_ids"] == [reader.id]
    assert (await client.get(f"/api/models/{model['id']}", headers=reader.headers)).status_code == 200


async def test_public_models_need_the_sharing_permission(
    client, creator, admin, new_caller, make_group, model_body
):
    response = await client.post(
        "/api/models", json=model_body("public", access_control=None), headers=creator.headers
    )
    assert response.status_code == 403
    assert (await client.get("/api/models/public", headers=admin.headers)).status_code == 404

    response = await client.post(
        "/api/models", json=model_body("public", access_control=None), headers=admin.headers
    )
    assert response.status_code == 200
    assert (await response.get_json())["access_control"] is None
    anyone = await new_caller("user")
    response = await client.get("/api/models/public", headers=anyone.headers)
    assert response.status_code == 200
    assert (await response.get_json())["write_access"] is False
    assert (
        await client.post("/api/models/public", json={"name": "x"}, headers=anyone.headers)
    ).status_code == 403

    sharer = await new_caller("user")
    await make_group([sharer], {"workspace": {"models": True}, "sharing": {"public_models": True}})
    response = await client.post(
        "/api/models", json=model_body("public-2", access_control=None), headers=sharer.headers
    )
    assert response.status_code == 200


async def test_unknown_principals_are_refused(client, creator, model_body):
    body = model_body(
        "shared", access_control={"read": {"group_ids": ["no-such-group"], "user_ids": ["no-such-user"]}}
    )
    response = await client.post("/api/models", json=body, headers=creator.headers)
    assert response.status_code == 422
    types = sorted(error["type"] for error in (await response.get_json())["errors"])
    assert types == ["unknown_group", "unknown_user"]


async def test_sharing_can_be_changed_and_revoked(client, creator, new_caller, make_group, create_model):
    reader = await new_caller("user")
    group_id = await make_group([reader])
    model = await create_model(creator)
    url = f"/api/models/{model['id']}"
    assert (await client.get(url, headers=reader.headers)).status_code == 404
    response = await client.post(
        url, json={"access_control": {"read": {"group_ids": [group_id]}}}, headers=creator.headers
    )
    assert response.status_code == 200
    assert (await client.get(url, headers=reader.headers)).status_code == 200
    response = await client.post(url, json={"access_control": {}}, headers=creator.headers)
    assert (await response.get_json())["access_grants"] == []
    assert (await client.get(url, headers=reader.headers)).status_code == 404


async def test_a_reader_cannot_widen_access(client, creator, new_caller, make_group, create_model):
    reader = await new_caller("user")
    group_id = await make_group([reader])
    model = await create_model(creator, access_control={"read": {"group_ids": [group_id]}})
    response = await client.post(
        f"/api/models/{model['id']}",
        json={"access_control": {"write": {"user_ids": [reader.id]}}},
        headers=reader.headers,
    )
    assert response.status_code == 403
    seen = await (await client.get(f"/api/models/{model['id']}", headers=creator.headers)).get_json()
    assert seen["access_control"] == model["access_control"]


async def test_a_deleted_models_grants_do_not_outlive_it(
    client, creator, new_caller, make_group, create_model, model_body
):
    reader = await new_caller("user")
    group_id = await make_group([reader])
    await create_model(creator, "reused", access_control={"read": {"group_ids": [group_id]}})
    assert (await client.delete("/api/models/reused", headers=creator.headers)).status_code == 200
    recreated = await create_model(creator, "reused", meta={"tags": [{"name": "fresh"}]})
    assert recreated["access_grants"] == []
    assert (await client.get("/api/models/reused", headers=reader.headers)).status_code == 404
    response = await client.get(
        "/api/models/search", query_string={"tag": "support"}, headers=creator.headers
    )
    assert (await response.get_json())["total"] == 0

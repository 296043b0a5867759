"""Storing functions: create, read, update, toggle, delete at the spec and Open WebUI paths; who may."""

from __future__ import annotations

import pytest
from functions_helpers import create, sample

pytestmark = pytest.mark.asyncio


async def test_create_read_list_update_delete(functions_env):
    env = await functions_env()
    source = sample("polite_filter")

    created = await create(env.client, env.admin, "polite", source, active=False)
    assert created["id"] == "polite" and created["type"] == "filter"
    assert "content" not in created
    assert created["is_active"] is False and created["is_global"] is False
    manifest = created["meta"]["manifest"]
    assert manifest["title"] == "Polite Filter" and manifest["version"] == "0.2.1"
    assert created["meta"]["description"] == "polite for the tests"
    assert created["meta"]["toggle"] is False

    for path in ("/api/functions/polite", "/api/v1/functions/id/polite"):
        response = await env.client.get(path, headers=env.admin)
        assert response.status_code == 200
        assert (await response.get_json())["content"] == source

    listed = await (await env.client.get("/api/v1/functions/", headers=env.user)).get_json()
    assert [item["id"] for item in listed] == ["polite"] and "content" not in listed[0]
    with_users = await (await env.client.get("/api/v1/functions/list", headers=env.admin)).get_json()
    assert with_users[0]["user"]["role"] == "admin"

    changed = source.replace("version: 0.2.1", "version: 0.3.0")
    response = await env.client.post(
        "/api/v1/functions/id/polite/update", json={"name": "Polite 2", "content": changed}, headers=env.admin
    )
    assert response.status_code == 200
    updated = await response.get_json()
    assert updated["name"] == "Polite 2" and updated["meta"]["manifest"]["version"] == "0.3.0"
    assert updated["version"] > created["version"]

    response = await env.client.delete("/api/functions/polite", headers=env.admin)
    assert response.status_code == 200 and await response.get_json() is True
    response = await env.client.get("/api/functions/polite", headers=env.admin)
    assert response.status_code == 404
    response = await env.client.delete("/api/v1/functions/id/polite/delete", headers=env.admin)
    assert response.status_code == 404


async def test_only_admins_see_source_or_change_functions(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "polite", sample("polite_filter"))
    body = {"id": "mine", "name": "Mine", "content": sample("polite_filter")}
    for method, path, payload in [
        ("post", "/api/functions", body),
        ("post", "/api/v1/functions/create", body),
        ("get", "/api/functions/polite", None),
        ("get", "/api/v1/functions/export", None),
        ("put", "/api/functions/polite", body),
        ("delete", "/api/functions/polite", None),
        ("post", "/api/functions/polite/toggle", None),
        ("post", "/api/v1/functions/id/polite/toggle/global", None),
        ("get", "/api/v1/functions/id/polite/valves", None),
        ("post", "/api/v1/functions/id/polite/valves/update", {"prefix": "x"}),
        ("post", "/api/functions/polite/execute", {"body": {}}),
    ]:
        response = await getattr(env.client, method)(path, json=payload, headers=env.user)
        assert response.status_code == 403, (method, path)
    response = await env.client.get("/api/functions", headers={})
    assert response.status_code == 401
    assert (await env.client.get("/api/functions/polite", headers=env.admin)).status_code == 200


async def test_toggle_and_toggle_global_flip_and_the_spec_toggle_can_set(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "polite", sample("polite_filter"), active=False)
    flipped = await (
        await env.client.post("/api/v1/functions/id/polite/toggle", headers=env.admin)
    ).get_json()
    assert flipped["is_active"] is True
    assert "polite" in env.registry.live
    kept = await (
        await env.client.post("/api/functions/polite/toggle", json={"is_active": True}, headers=env.admin)
    ).get_json()
    assert kept["is_active"] is True
    off = await (await env.client.post("/api/functions/polite/toggle", headers=env.admin)).get_json()
    assert off["is_active"] is False
    assert "polite" not in env.registry.live
    glob = await (await env.client.post("/api/functions/polite/toggle/global", headers=env.admin)).get_json()
    assert glob["is_global"] is True
    response = await env.client.post(
        "/api/functions/polite/toggle", json={"is_active": "yes"}, headers=env.admin
    )
    assert response.status_code == 400


async def test_export_with_and_without_valves(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "polite", sample("polite_filter"))
    await env.client.post(
        "/api/v1/functions/id/polite/valves/update", json={"prefix": "Hi."}, headers=env.admin
    )
    plain = await (await env.client.get("/api/v1/functions/export", headers=env.admin)).get_json()
    assert plain[0]["content"] == sample("polite_filter") and "valves" not in plain[0]
    full = await (
        await env.client.get("/api/v1/functions/export?include_valves=true", headers=env.admin)
    ).get_json()
    assert full[0]["valves"] == {"prefix": "Hi."}


@pytest.mark.parametrize(
    ("function_id", "detail"),
    [
        ("bad-id", "Only alphanumeric characters and underscores are allowed in the id"),
        ("has space", "Only alphanumeric characters and underscores are allowed in the id"),
        ("list", "The id 'list' is reserved; choose another"),
    ],
)
async def test_bad_ids_are_refused(functions_env, function_id, detail):
    env = await functions_env()
    body = {"id": function_id, "name": "X", "content": sample("polite_filter")}
    response = await env.client.post("/api/functions", json=body, headers=env.admin)
    assert response.status_code == 400
    assert (await response.get_json())["detail"] == detail


async def test_a_taken_id_is_refused_and_ids_are_lower_cased(functions_env):
    env = await functions_env()
    created = await create(env.client, env.admin, "Polite", sample("polite_filter"), active=False)
    assert created["id"] == "polite"
    body = {"id": "polite", "name": "Again", "content": sample("echo_manifold")}
    response = await env.client.post("/api/v1/functions/create", json=body, headers=env.admin)
    assert response.status_code == 400
    assert "already registered" in (await response.get_json())["detail"]
    stored = await (await env.client.get("/api/functions/polite", headers=env.admin)).get_json()
    assert stored["type"] == "filter"


async def test_missing_fields_are_refused_with_the_field_named(functions_env):
    env = await functions_env()
    response = await env.client.post("/api/functions", json={"id": "x", "name": "X"}, headers=env.admin)
    assert response.status_code == 422
    assert "content" in str(await response.get_json())
    response = await env.client.post(
        "/api/functions", data=b"{", headers={**env.admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 400

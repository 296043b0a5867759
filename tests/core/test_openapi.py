"""The OpenAPI document lists the core's routes, with their request schemas, and ``/docs`` serves it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


async def test_openapi_lists_auth_users_and_groups_routes(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = await response.get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    expected = {
        "/api/auth/signup": "post",
        "/api/auth/signin": "post",
        "/api/auth/signout": "post",
        "/api/auth/me": "get",
        "/api/auth/api_key": "post",
        "/api/v1/auths/signin": "post",
        "/api/v1/auths/": "get",
        "/api/v1/auths/add": "post",
        "/api/users": "get",
        "/api/users/{user_id}": "delete",
        "/api/v1/users/": "get",
        "/api/v1/users/{user_id}/update": "post",
        "/api/groups": "post",
        "/api/v1/groups/id/{group_id}/users/add": "post",
        "/api/version": "get",
        "/api/config": "get",
    }
    for path, method in expected.items():
        assert method in paths.get(path, {}), path

    signin = paths["/api/auth/signin"]["post"]
    schema = signin["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert {"email", "password"} <= set(schema["properties"])
    assert "auth" in signin["tags"]
    listing = paths["/api/users"]["get"]
    assert {parameter["name"] for parameter in listing["parameters"]} >= {"page", "query", "order_by"}

    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/health" not in paths  # probes are hidden from the document


async def test_docs_page_serves_the_document(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "/openapi.json" in await response.get_data(as_text=True)

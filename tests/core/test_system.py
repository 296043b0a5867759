"""System endpoints: health, readiness, version and the public and signed-in ``/api/config``."""

from __future__ import annotations

import pytest

from colonnade import __version__, hookimpl


class Memory:
    """Stands in for the ``memory`` feature plugin: its presence turns on ``enable_memories``."""

    __name__ = "memory"

    @hookimpl
    def startup(self):
        pass


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/health", "/health/db", "/ready"])
async def test_health_and_readiness(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert await response.get_json() == {"status": True}


@pytest.mark.asyncio
async def test_health_is_not_in_the_openapi_document(client):
    paths = (await (await client.get("/openapi.json")).get_json())["paths"]
    assert "/health" not in paths
    assert "/api/config" in paths


@pytest.mark.asyncio
async def test_version(make_app):
    app = await make_app(config={"host": {"deployment_id": "blue"}})
    response = await app.test_client().get("/api/version")
    assert await response.get_json() == {"version": __version__, "deployment_id": "blue"}


@pytest.mark.asyncio
async def test_public_config_before_the_first_signup(make_app):
    app = await make_app(config={"host": {"name": "Atrium"}, "auth": {"enable_signup": False}})
    body = await (await app.test_client().get("/api/config")).get_json()
    assert body["name"] == "Atrium"
    assert body["version"] == __version__
    assert body["onboarding"] is True
    assert body["features"]["enable_signup"] is False
    assert "plugins" not in body
    assert "enable_memories" not in body["features"]  # feature flags only for signed-in users


@pytest.mark.asyncio
async def test_public_config_after_the_first_signup(app, client, auth_headers):
    await auth_headers(app, role="admin")
    body = await (await client.get("/api/config")).get_json()
    assert "onboarding" not in body
    assert "plugins" not in body


@pytest.mark.asyncio
async def test_signed_in_config_lists_features_from_the_plugins(make_app, auth_headers):
    app = await make_app(plugins=[Memory()])
    client = app.test_client()
    body = await (await client.get("/api/config", headers=await auth_headers(app, role="user"))).get_json()
    assert body["features"]["enable_memories"] is True
    assert body["features"]["enable_image_generation"] is False  # no images plugin loaded
    assert body["features"]["enable_api_keys"] is True
    assert "memory" in body["plugins"]
    assert {"auth", "system", "introspection"} <= set(body["plugins"])


@pytest.mark.asyncio
async def test_pending_users_see_only_the_overlay(app, client, auth_headers):
    body = await (await client.get("/api/config", headers=await auth_headers(app, role="pending"))).get_json()
    assert "ui" in body
    assert "plugins" not in body

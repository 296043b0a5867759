"""The greeter plugin, through its real entry point and as a module; fixtures come from colonnade.testing."""

import colonnade_greeter
import pytest
from colonnade import StartupError


@pytest.mark.asyncio
async def test_greets_through_the_entry_point_with_configured_greeting(make_app, auth_headers):
    app = await make_app(config={"plugins": {"greeter": {"greeting": "Bonjour"}}}, load_plugins=["greeter"])
    headers = await auth_headers(app, role="user", email="ada@example.test")
    response = await app.test_client().get("/api/greeter", headers=headers)
    assert response.status_code == 200
    assert (await response.get_json())["message"] == "Bonjour, ada@example.test!"


@pytest.mark.asyncio
async def test_plugin_is_listed_with_its_distribution(make_app, auth_headers):
    app = await make_app(load_plugins=["greeter"])
    response = await app.test_client().get("/api/plugins", headers=await auth_headers(app, role="admin"))
    listed = {plugin["name"]: plugin for plugin in (await response.get_json())["plugins"]}
    assert listed["greeter"]["source"] == "colonnade-greeter"
    assert listed["greeter"]["version"] == "0.1"
    assert "register_blueprints" in listed["greeter"]["hooks"]


@pytest.mark.asyncio
async def test_default_greeting_when_registered_as_a_module(make_app, auth_headers):
    app = await make_app(plugins=[colonnade_greeter])
    headers = await auth_headers(app, role="admin", email="root@example.test")
    response = await app.test_client().get("/api/greeter", headers=headers)
    assert (await response.get_json())["message"] == "Hello, root@example.test!"


@pytest.mark.asyncio
async def test_anonymous_gets_401_and_pending_gets_403(make_app, auth_headers):
    app = await make_app(plugins=[colonnade_greeter])
    client = app.test_client()
    anonymous = await client.get("/api/greeter")
    assert anonymous.status_code == 401
    assert "detail" in await anonymous.get_json()
    pending = await client.get("/api/greeter", headers=await auth_headers(app, role="pending"))
    assert pending.status_code == 403


@pytest.mark.asyncio
async def test_invalid_config_stops_the_start_naming_the_key(make_app):
    with pytest.raises(StartupError, match=r"plugins\.greeter\.greeting"):
        await make_app(config={"plugins": {"greeter": {"greeting": ""}}}, plugins=[colonnade_greeter])


@pytest.mark.asyncio
async def test_blocking_the_plugin_removes_its_route(make_app, auth_headers):
    app = await make_app(load_plugins=["greeter"], block_plugins=["greeter"])
    response = await app.test_client().get("/api/greeter", headers=await auth_headers(app))
    assert response.status_code == 404

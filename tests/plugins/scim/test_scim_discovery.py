"""Discovery (ServiceProviderConfig, ResourceTypes, Schemas), the token gate and both mount points."""

from __future__ import annotations

import pytest
from scim2_models import Context, ListResponse, ResourceType, Schema, ServiceProviderConfig

from colonnade import StartupError

from scim_helpers import ENTERPRISE, GROUP_SCHEMA, TOKEN, USER_SCHEMA, ScimEnv

pytestmark = pytest.mark.asyncio


async def test_service_provider_config_says_what_is_implemented(scim):
    answer = await scim.call("GET", "/ServiceProviderConfig", headers={})
    assert answer.status == 200
    config = ServiceProviderConfig.model_validate(answer.body, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    assert config.patch.supported and config.filter.supported and config.sort.supported
    assert config.etag.supported
    assert not config.bulk.supported and not config.change_password.supported
    assert config.filter.max_results == 200
    assert answer.body["authenticationSchemes"][0]["type"] == "oauthbearertoken"


async def test_resource_types_list_users_and_groups(scim):
    answer = await scim.call("GET", "/ResourceTypes", headers={})
    assert answer.status == 200
    listed = ListResponse[ResourceType].model_validate(answer.body, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    by_name = {rt.name: rt for rt in listed.resources}
    assert set(by_name) == {"User", "Group"}
    assert by_name["User"].endpoint == "/Users"
    assert by_name["User"].schema_ == USER_SCHEMA
    assert by_name["User"].schema_extensions[0].schema_ == ENTERPRISE
    assert by_name["Group"].schema_ == GROUP_SCHEMA
    one = await scim.call("GET", "/ResourceTypes/Group", headers={})
    assert one.status == 200 and one.body["endpoint"] == "/Groups"
    missing = await scim.call("GET", "/ResourceTypes/Printer", headers={})
    assert missing.status == 404


async def test_schemas_describe_every_attribute_served(scim):
    answer = await scim.call("GET", "/Schemas", headers={})
    assert answer.status == 200
    listed = ListResponse[Schema].model_validate(answer.body, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    ids = {schema.id for schema in listed.resources}
    assert ids == {USER_SCHEMA, ENTERPRISE, GROUP_SCHEMA}
    user = await scim.call("GET", f"/Schemas/{USER_SCHEMA}", headers={})
    names = {attribute["name"] for attribute in user.body["attributes"]}
    assert {"userName", "name", "emails", "active", "groups", "phoneNumbers", "addresses"} <= names
    assert "password" not in names and "photos" not in names  # not implemented, so not described
    user_name = next(a for a in user.body["attributes"] if a["name"] == "userName")
    assert user_name["required"] and user_name["uniqueness"] == "server" and not user_name["caseExact"]
    assert (await scim.call("GET", "/Schemas/urn:nothing", headers={})).status == 404


async def test_discovery_refuses_filters(scim):
    for path in ("/Schemas", "/ResourceTypes"):
        answer = await scim.call("GET", path, headers={}, query={"filter": 'name eq "User"'})
        assert answer.status == 403


async def test_unknown_endpoints_answer_a_scim_404(scim):
    answer = await scim.call("GET", "/Printers")
    assert answer.status == 404 and answer.body["status"] == "404"


async def test_open_webui_prefix_serves_the_same(scim):
    scim.prefix = "/api/v1/scim/v2"
    user = await scim.create_user("prefix@example.com")
    assert user["meta"]["location"].endswith(f"/api/v1/scim/v2/Users/{user['id']}")
    scim.prefix = "/scim/v2"
    again = await scim.get("Users", user["id"])
    assert again["meta"]["location"].endswith(f"/scim/v2/Users/{user['id']}")
    assert "/api/v1/" not in again["meta"]["location"]
    assert again["meta"]["version"] == user["meta"]["version"]


async def test_without_a_token_the_plugin_serves_nothing(make_app):
    app = await make_app(load_plugins=["scim"])
    client = app.test_client()
    for path in ("/scim/v2/Users", "/scim/v2/ServiceProviderConfig", "/api/v1/scim/v2/Users"):
        response = await client.get(path, headers={"Authorization": "Bearer anything"})
        assert response.status_code == 404


async def test_the_token_can_come_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("SCIM_TEST_TOKEN", TOKEN)
    app = await make_app(config={"plugins": {"scim": {"token": {"$env": "SCIM_TEST_TOKEN"}}}}, load_plugins=["scim"])
    env = ScimEnv(app, app.test_client())
    assert (await env.call("GET", "/Users")).status == 200


async def test_the_token_can_come_from_a_file(make_app, tmp_path):
    secret = tmp_path / "scim_token"
    secret.write_text(TOKEN + "\n")
    app = await make_app(config={"plugins": {"scim": {"token": {"$file": str(secret)}}}}, load_plugins=["scim"])
    env = ScimEnv(app, app.test_client())
    assert (await env.call("GET", "/Users")).status == 200


async def test_a_short_token_stops_the_start(make_app):
    with pytest.raises(StartupError, match="at least 16 characters"):
        await make_app(config={"plugins": {"scim": {"token": "short"}}}, load_plugins=["scim"])


async def test_the_token_is_never_shown(scim, auth_headers):
    admin = await auth_headers(scim.app, role="admin")
    response = await scim.client.get("/api/plugins", headers=admin)
    text = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert TOKEN not in text

"""The scim plugin's own hooks, exercised through a started application with in-test plugins, and the
``scim.resource_changed`` event."""

from __future__ import annotations

import pytest
from scim_helpers import user_body

from colonnade import StartupError, hookimpl
from colonnade.plugins.scim.definitions import ScimAttribute, ScimResourceType, ScimSchema
from colonnade.plugins.scim.errors import ScimError

pytestmark = pytest.mark.asyncio

PRINTER = ScimSchema(
    "urn:example:scim:Printer", "Printer", "A printer", (ScimAttribute("model", description="The model"),)
)


class Printers:
    __name__ = "test_printers"

    def __init__(self, *resource_types):
        self.resource_types = resource_types

    @hookimpl
    def scim_resource_types(self, host):
        return list(self.resource_types)


async def test_hook_scim_resource_types(make_scim):
    env = await make_scim(plugins=[Printers(ScimResourceType("Printer", "/Printers", "Printers", PRINTER))])
    listed = await env.call("GET", "/ResourceTypes", headers={})
    assert {rt["name"] for rt in listed.body["Resources"]} == {"User", "Group", "Printer"}
    printer = await env.call("GET", "/ResourceTypes/Printer", headers={})
    assert printer.body["schema"] == "urn:example:scim:Printer"
    schema = await env.call("GET", "/Schemas/urn:example:scim:Printer", headers={})
    assert schema.body["attributes"][0]["name"] == "model"


async def test_scim_resource_types_cannot_describe_a_type_twice(make_scim):
    from colonnade.plugins.scim.definitions import USER_SCHEMA

    with pytest.raises(StartupError, match="'User' is described twice"):
        await make_scim(plugins=[Printers(ScimResourceType("User", "/Users", "again", PRINTER))])
    with pytest.raises(StartupError, match="described twice"):
        await make_scim(plugins=[Printers(ScimResourceType("People", "/People", "again", USER_SCHEMA))])


class Preparer:
    __name__ = "test_preparer"

    def __init__(self):
        self.calls = []

    @hookimpl
    async def scim_prepare_resource(self, resource_type, operation, resource, actor):
        self.calls.append((resource_type, operation, dict(resource), actor.credential))
        if resource_type == "User" and operation != "delete":
            resource["title"] = "Provisioned"  # mapping in place
            if resource.get("userName", "").endswith("@blocked.example"):
                raise ScimError(403, "this domain is not provisioned here")
        if resource_type == "Group" and resource.get("displayName") == "forbidden":
            raise ScimError(400, "that name is reserved", "invalidValue")


async def test_hook_scim_prepare_resource(make_scim):
    preparer = Preparer()
    env = await make_scim(plugins=[preparer])
    user = await env.create_user("ann@example.com")
    assert user["title"] == "Provisioned"
    assert preparer.calls[0][:2] == ("User", "create") and preparer.calls[0][3] == "scim_token"
    await env.patch("Users", user["id"], {"op": "replace", "path": "title", "value": "Boss"})
    assert (await env.get("Users", user["id"]))["title"] == "Provisioned"
    assert preparer.calls[-1][:2] == ("User", "patch") and preparer.calls[-1][2]["title"] == "Boss"
    refused = await env.call("POST", "/Users", user_body("bob@blocked.example"))
    assert refused.status == 403 and refused.body["detail"] == "this domain is not provisioned here"
    assert (await env.list("Users", filter='userName eq "bob@blocked.example"')).body["totalResults"] == 0
    group = await env.call("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                               "displayName": "forbidden"})
    assert group.status == 400 and group.body["scimType"] == "invalidValue"
    assert (await env.call("DELETE", f"/Users/{user['id']}")).status == 204
    assert preparer.calls[-1][:2] == ("User", "delete")


class Recorder:
    __name__ = "test_recorder"

    def __init__(self):
        self.events = []

    @hookimpl
    def on_event(self, event):
        self.events.append(event)


async def test_writes_emit_scim_resource_changed(make_scim):
    recorder = Recorder()
    env = await make_scim(plugins=[recorder])
    user = await env.create_user()
    await env.patch("Users", user["id"], {"op": "replace", "path": "displayName", "value": "X"})
    group = await env.create_group(members=[user["id"]])
    await env.call("DELETE", f"/Groups/{group['id']}")
    await env.call("DELETE", f"/Users/{user['id']}")
    changes = [(e.resource_type, e.operation) for e in recorder.events if e.name == "scim.resource_changed"]
    assert changes == [("User", "create"), ("User", "patch"), ("Group", "create"), ("Group", "delete"),
                       ("User", "delete")]
    core = [e.name for e in recorder.events if e.name.startswith("auth.")]
    assert core == ["auth.user_created", "auth.user_updated", "auth.user_deleted"]
    assert all(e.actor.credential == "scim_token" for e in recorder.events)

"""Smaller rules: attribute names in any case, unknown attributes, unknown groups, what identity
providers ask before they write."""

from __future__ import annotations

import pytest
from scim_helpers import GROUP_SCHEMA, USER_SCHEMA, patch_body

pytestmark = pytest.mark.asyncio


async def test_attribute_names_in_any_case(scim):
    body = {"SCHEMAS": "ignored", "schemas": [USER_SCHEMA], "UserName": "case@example.com",
            "NAME": {"GIVENNAME": "Kay"}, "Active": "TRUE",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:DEPARTMENT": "Ops"}
    answer = await scim.call("POST", "/Users", body)
    assert answer.status == 201, answer.body
    user = answer.body
    assert user["userName"] == "case@example.com" and user["name"] == {"givenName": "Kay"} and user["active"] is True
    assert user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == {"department": "Ops"}
    patched = await scim.patch("Users", user["id"], {"op": "replace", "path": "NAME.FamilyNAME", "value": "Lo"})
    assert patched.body["name"] == {"givenName": "Kay", "familyName": "Lo"}


async def test_unknown_attributes_are_ignored_on_create_and_replace(scim):
    user = await scim.create_user("ignored@example.com", password="secret", photos=[{"value": "x"}], shoeSize=42)
    assert "password" not in user and "photos" not in user and "shoeSize" not in user
    refused = await scim.patch("Users", user["id"], {"op": "add", "path": "password", "value": "x"}, status=400)
    assert refused.body["scimType"] == "invalidPath"


async def test_unknown_groups_are_404_for_every_method(scim):
    for method, body in (("GET", None), ("PUT", {"schemas": [GROUP_SCHEMA], "displayName": "x"}),
                         ("PATCH", patch_body({"op": "replace", "path": "displayName", "value": "x"})),
                         ("DELETE", None)):
        answer = await scim.call(method, "/Groups/no-such-group", body)
        assert answer.status == 404 and answer.body["status"] == "404", method


async def test_what_okta_and_entra_id_ask_first(scim):
    """Both look a user up by userName (Okta with paging parameters) before creating, and a group by
    displayName without its members."""
    lookup = await scim.list("Users", filter='userName eq "new@example.com"', startIndex=1, count=100)
    assert lookup.body == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0,
                           "itemsPerPage": 0, "startIndex": 1, "Resources": []}
    user = await scim.create_user("new@example.com")
    group = await scim.create_group("Sales", [user["id"]])
    found = await scim.list("Groups", filter='displayName eq "sales"', excludedAttributes="members")
    assert [g["id"] for g in found.body["Resources"]] == [group["id"]]
    assert "members" not in found.body["Resources"][0]
    by_external = await scim.list("Users", filter='externalId eq "none"')
    assert by_external.body["totalResults"] == 0


async def test_writes_honour_attributes_too(scim):
    answer = await scim.call("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "few@example.com"},
                             query={"attributes": "userName"})
    assert answer.status == 201
    assert set(answer.body) == {"schemas", "id", "userName"}

"""PATCH on Users: add, replace and remove with and without a path, value-path filters, the variants
Entra ID and Okta send, and every refusal (nothing is stored when any operation fails)."""

from __future__ import annotations

import pytest
from scim_helpers import ENTERPRISE, PATCH_OP, patch_body

from colonnade.auth.models import User

pytestmark = pytest.mark.asyncio


@pytest.fixture
def make_user(scim):
    async def create(**extra):
        return await scim.create_user(
            "pat@example.com", name={"givenName": "Pat", "familyName": "Doe"}, title="Clerk",
            emails=[{"value": "pat@example.com", "type": "work", "primary": True}], **extra,
        )

    return create


async def test_replace_and_add_with_paths(scim, make_user):
    user = await make_user()
    answer = await scim.patch(
        "Users", user["id"],
        {"op": "replace", "path": "displayName", "value": "Patricia"},
        {"op": "replace", "path": "name.givenName", "value": "Patricia"},
        {"op": "add", "path": "nickName", "value": "Trish"},
        {"op": "add", "path": "emails", "value": [{"value": "pat@home.org", "type": "home"}]},
        {"op": "add", "path": f"{ENTERPRISE}:department", "value": "Finance"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:title", "value": "Lead"},
    )
    patched = answer.body
    assert patched["displayName"] == "Patricia" and patched["name"] == {"givenName": "Patricia", "familyName": "Doe"}
    assert patched["nickName"] == "Trish" and patched["title"] == "Lead"
    assert [e["value"] for e in patched["emails"]] == ["pat@example.com", "pat@home.org"]
    assert patched[ENTERPRISE] == {"department": "Finance"}
    assert answer.headers["ETag"] == patched["meta"]["version"] != user["meta"]["version"]
    assert await scim.get("Users", user["id"]) == patched
    assert (await User.get(id=user["id"])).name == "Patricia"


async def test_add_to_a_complex_attribute_merges(scim, make_user):
    user = await make_user()
    patched = (await scim.patch("Users", user["id"], {"op": "add", "path": "name", "value": {"middleName": "Q"}})).body
    assert patched["name"] == {"givenName": "Pat", "familyName": "Doe", "middleName": "Q"}
    replaced = (await scim.patch("Users", user["id"], {"op": "replace", "path": "name", "value": {"formatted": "P"}})).body
    assert replaced["name"] == {"formatted": "P"}


async def test_remove(scim, make_user):
    user = await make_user(phoneNumbers=[{"value": "1", "type": "work"}, {"value": "2", "type": "mobile"}])
    patched = (await scim.patch(
        "Users", user["id"],
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "name.familyName"},
        {"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'},
    )).body
    assert "title" not in patched and patched["name"] == {"givenName": "Pat"}
    assert patched["phoneNumbers"] == [{"value": "1", "type": "work"}]
    cleared = (await scim.patch("Users", user["id"], {"op": "remove", "path": "phoneNumbers"})).body
    assert "phoneNumbers" not in cleared


async def test_value_path_with_sub_attribute(scim, make_user):
    user = await make_user()
    patched = (await scim.patch(
        "Users", user["id"],
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "pat.doe@example.com"},
        {"op": "replace", "path": 'emails[type eq "home"].value', "value": "pat@home.org"},  # added: none yet
        {"op": "add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555"},
    )).body
    assert patched["emails"] == [{"value": "pat.doe@example.com", "type": "work", "primary": True},
                                 {"value": "pat@home.org", "type": "home"}]
    assert patched["phoneNumbers"] == [{"value": "+1 555", "type": "mobile"}]
    assert (await User.get(id=user["id"])).email == "pat.doe@example.com"
    # An email without its value is not an email: refused, not stored half-way.
    half = await scim.patch("Users", user["id"], {"op": "remove", "path": 'emails[type eq "home"].value'}, status=400)
    assert half.body["scimType"] == "invalidValue"
    gone = (await scim.patch("Users", user["id"], {"op": "remove", "path": 'emails[type eq "home"]'})).body
    assert gone["emails"] == [{"value": "pat.doe@example.com", "type": "work", "primary": True}]


async def test_value_path_replacing_whole_values(scim, make_user):
    user = await make_user()
    patched = (await scim.patch(
        "Users", user["id"],
        {"op": "replace", "path": 'emails[primary eq true]', "value": {"value": "new@example.com", "primary": True}},
    )).body
    assert patched["emails"] == [{"value": "new@example.com", "primary": True}]


async def test_entra_id_variants(scim, make_user):
    """What Microsoft Entra ID sends: capitalised ops, string booleans, path-less objects keyed by paths,
    the manager as a bare id, enterprise attributes by full URN path."""
    boss = await scim.create_user("boss@example.com")
    user = await make_user()
    patched = (await scim.patch(
        "Users", user["id"],
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "title", "value": "Analyst"},
        {"op": "Replace", "value": {"displayName": "Pat D", "name.familyName": "Doe-Smith", "active": "True"}},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "42"},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "pat@example.com"},
    )).body
    assert patched["active"] is True and patched["title"] == "Analyst" and patched["displayName"] == "Pat D"
    assert patched["name"]["familyName"] == "Doe-Smith"
    assert patched[ENTERPRISE]["manager"]["value"] == boss["id"] and patched[ENTERPRISE]["employeeNumber"] == "42"
    addresses = (await scim.patch(
        "Users", user["id"],
        {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Springfield"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "work"].value', "value": "555-0100"},
    )).body
    assert addresses["addresses"] == [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}]
    assert addresses["phoneNumbers"] == [{"value": "555-0100", "type": "work"}]
    disabled = (await scim.patch("Users", user["id"], {"op": "Replace", "path": "active", "value": "False"})).body
    assert disabled["active"] is False and not (await User.get(id=user["id"])).active


async def test_okta_variants(scim, make_user):
    """What Okta sends: path-less replace with a whole object (active false to deactivate), and
    lower-case ops with boolean values."""
    user = await make_user()
    patched = (await scim.patch("Users", user["id"], {"op": "replace", "value": {"active": False}})).body
    assert patched["active"] is False
    back = (await scim.patch("Users", user["id"], {"op": "replace", "value": {
        "active": True, "name": {"givenName": "P", "familyName": "D"},
        ENTERPRISE: {"department": "Ops"}, "schemas": ["ignored"]}})).body
    assert back["active"] is True and back["name"] == {"givenName": "P", "familyName": "D"}
    assert back[ENTERPRISE]["department"] == "Ops"


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "move", "path": "title", "value": "x"}, "invalidSyntax"),
        ({"path": "title", "value": "x"}, "invalidSyntax"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "path": "title"}, "invalidValue"),
        ({"op": "replace", "value": "not an object"}, "invalidValue"),
        ({"op": "replace", "path": "nosuch", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "name.nosuch", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "emails[type eq", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 'emails[nosuch eq "x"].value', "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 'title[value eq "x"]', "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 'emails[type eq "work"]bad', "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 5, "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
        ({"op": "replace", "path": "meta.created", "value": "x"}, "mutability"),
        ({"op": "add", "path": "groups", "value": [{"value": "x"}]}, "mutability"),
        ({"op": "replace", "path": 'emails[value sw "zzz"].value', "value": "a@b.c"}, "noTarget"),
        ({"op": "replace", "path": "active", "value": "perhaps"}, "invalidValue"),
        ({"op": "replace", "path": "userName", "value": None}, "invalidValue"),
        ({"op": "remove", "path": "userName"}, "invalidValue"),
        ({"op": "replace", "path": "emails", "value": [{"value": "a@example.com", "primary": True},
                                                        {"value": "b@example.com", "primary": True}]}, "invalidValue"),
    ],
)
async def test_refused_operations_change_nothing(scim, make_user, operation, scim_type):
    user = await make_user()
    first = {"op": "replace", "path": "title", "value": "Changed"}  # valid, but must not be stored
    answer = await scim.patch("Users", user["id"], first, operation, status=400)
    assert answer.body["scimType"] == scim_type, answer.body
    assert await scim.get("Users", user["id"]) == user


@pytest.mark.parametrize(
    "body",
    [
        {"Operations": [{"op": "replace", "path": "title", "value": "x"}]},
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []},
        {"schemas": [PATCH_OP], "Operations": []},
        {"schemas": [PATCH_OP], "Operations": "replace"},
        {"schemas": [PATCH_OP], "Operations": ["replace"]},
        {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "x"}] * 1001},
    ],
)
async def test_malformed_patch_bodies(scim, make_user, body):
    user = await make_user()
    answer = await scim.call("PATCH", f"/Users/{user['id']}", body)
    assert answer.status == 400 and answer.body["scimType"] == "invalidSyntax"


async def test_patch_into_a_taken_user_name_is_a_conflict(scim, make_user):
    await scim.create_user("taken@example.com")
    user = await make_user()
    answer = await scim.patch("Users", user["id"], {"op": "replace", "path": "userName", "value": "TAKEN@example.com"},
                              status=409)
    assert answer.body["scimType"] == "uniqueness"


async def test_operation_keys_in_any_case(scim, make_user):
    user = await make_user()
    body = {"schemas": [PATCH_OP], "operations": [{"OP": "REPLACE", "Path": "title", "Value": "Boss"}]}
    answer = await scim.call("PATCH", f"/Users/{user['id']}", body)
    assert answer.status == 200 and answer.body["title"] == "Boss"
    assert patch_body()["schemas"] == [PATCH_OP]

"""Groups: create, read, replace, PATCH of members (the Entra ID and Okta shapes), delete, and the
refusals (nested groups, unknown members, taken names)."""

from __future__ import annotations

import pytest
from scim_helpers import GROUP_SCHEMA, validate

from colonnade.auth.models import Group

pytestmark = pytest.mark.asyncio


@pytest.fixture
def users(scim):
    async def create(count):
        return [(await scim.create_user(f"member{n}@example.com", displayName=f"Member {n}"))["id"] for n in range(count)]

    return create


async def test_create_read_and_the_core_group(scim, users):
    ann, bob = await users(2)
    answer = await scim.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineers",
                                                "externalId": "okta-1", "members": [{"value": ann}, {"value": bob}]})
    assert answer.status == 201, answer.body
    group = answer.body
    validate("Group", group)
    assert answer.headers["Location"] == group["meta"]["location"] and answer.headers["ETag"] == group["meta"]["version"]
    assert group["displayName"] == "Engineers" and group["externalId"] == "okta-1"
    assert [m["value"] for m in group["members"]] == [ann, bob]
    assert group["members"][0] == {"value": ann, "$ref": f"http://localhost/scim/v2/Users/{ann}",
                                   "display": "Member 0", "type": "User"}
    assert await scim.get("Groups", group["id"]) == group
    core = await Group.get(id=group["id"])
    assert core.name == "Engineers" and sorted(await core.members.all().values_list("id", flat=True)) == sorted([ann, bob])
    user = await scim.get("Users", ann)
    assert user["groups"] == [{"value": group["id"], "$ref": f"http://localhost/scim/v2/Groups/{group['id']}",
                               "display": "Engineers", "type": "direct"}]


@pytest.mark.parametrize(
    ("body", "status", "scim_type"),
    [
        ({"schemas": [GROUP_SCHEMA]}, 400, "invalidValue"),
        ({"displayName": "x"}, 400, "invalidSyntax"),
        ({"schemas": [GROUP_SCHEMA], "displayName": "x", "members": [{"value": "nobody"}]}, 400, "invalidValue"),
        ({"schemas": [GROUP_SCHEMA], "displayName": "x", "members": [{"display": "no value"}]}, 400, "invalidValue"),
        ({"schemas": [GROUP_SCHEMA], "displayName": "x", "members": "everyone"}, 400, "invalidValue"),
        ({"schemas": [GROUP_SCHEMA], "displayName": "TAKEN"}, 409, "uniqueness"),
    ],
)
async def test_bad_groups_are_refused(scim, body, status, scim_type):
    await scim.create_group("taken")
    answer = await scim.call("POST", "/Groups", body)
    assert answer.status == status and answer.body["scimType"] == scim_type, answer.body
    assert await Group.all().count() == 1


async def test_nested_groups_are_refused(scim, users):
    inner = await scim.create_group("inner")
    for member in ({"value": inner["id"], "type": "Group"}, {"value": inner["id"]}):
        body = {"schemas": [GROUP_SCHEMA], "displayName": "outer", "members": [member]}
        answer = await scim.call("POST", "/Groups", body)
        assert answer.status == 400 and answer.body["scimType"] == "invalidValue"


async def test_local_accounts_cannot_be_members_and_local_groups_are_invisible(scim, auth_headers):
    admin = await auth_headers(scim.app, role="admin")
    local = await scim.client.post("/api/groups", json={"name": "local"}, headers=admin)
    local_id = (await local.get_json())["id"]
    assert (await scim.call("GET", f"/Groups/{local_id}")).status == 404
    assert (await scim.list("Groups")).body["totalResults"] == 0
    from colonnade.auth.models import User

    admin_id = (await User.get(role="admin")).id
    answer = await scim.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "g",
                                                "members": [{"value": admin_id}]})
    assert answer.status == 400 and answer.body["scimType"] == "invalidValue"


async def test_replace(scim, users):
    ann, bob, cid = await users(3)
    group = await scim.create_group("before", [ann, bob], externalId="e1")
    body = {"schemas": [GROUP_SCHEMA], "displayName": "after", "members": [{"value": cid}, {"value": bob}]}
    answer = await scim.call("PUT", f"/Groups/{group['id']}", body)
    assert answer.status == 200, answer.body
    assert answer.body["displayName"] == "after" and "externalId" not in answer.body
    assert sorted(m["value"] for m in answer.body["members"]) == sorted([bob, cid])
    emptied = await scim.call("PUT", f"/Groups/{group['id']}", {"schemas": [GROUP_SCHEMA], "displayName": "after"})
    assert "members" not in emptied.body
    other = await scim.create_group("other")
    clash = await scim.call("PUT", f"/Groups/{other['id']}", {"schemas": [GROUP_SCHEMA], "displayName": "AFTER"})
    assert clash.status == 409 and clash.body["scimType"] == "uniqueness"


async def test_patch_members_like_entra_id(scim, users):
    ann, bob, cid = await users(3)
    group = await scim.create_group("entra", [ann])
    added = await scim.patch("Groups", group["id"],
                             {"op": "Add", "path": "members", "value": [{"value": bob}, {"value": ann}]})
    assert sorted(m["value"] for m in added.body["members"]) == sorted([ann, bob])
    removed = await scim.patch("Groups", group["id"], {"op": "Remove", "path": "members", "value": [{"value": ann}]})
    assert [m["value"] for m in removed.body["members"]] == [bob]
    renamed = await scim.patch("Groups", group["id"], {"op": "Replace", "path": "displayName", "value": "entra2"})
    assert renamed.body["displayName"] == "entra2"
    external = await scim.patch("Groups", group["id"], {"op": "Add", "path": "externalId", "value": "x-1"})
    assert external.body["externalId"] == "x-1"
    by_filter = await scim.patch("Groups", group["id"], {"op": "remove", "path": f'members[value eq "{bob}"]'})
    assert "members" not in by_filter.body
    await scim.patch("Groups", group["id"], {"op": "add", "path": "members", "value": [{"value": cid}]})
    missing = await scim.patch("Groups", group["id"], {"op": "remove", "path": f'members[value eq "{ann}"]'})
    assert [m["value"] for m in missing.body["members"]] == [cid]  # removing a non-member is a no-op


async def test_patch_members_like_okta(scim, users):
    ann, bob, cid = await users(3)
    group = await scim.create_group("okta", [ann, bob])
    replaced = await scim.patch("Groups", group["id"], {"op": "replace", "value": {"id": group["id"], "displayName": "okta-2"}},
                                {"op": "replace", "path": "members", "value": [{"value": cid, "display": "C"}]})
    assert replaced.body["displayName"] == "okta-2" and [m["value"] for m in replaced.body["members"]] == [cid]
    everyone = await scim.patch("Groups", group["id"], {"op": "remove", "path": "members"})
    assert "members" not in everyone.body
    assert await (await Group.get(id=group["id"])).members.all().count() == 0


async def test_patch_members_refusals(scim, users):
    (ann,) = await users(1)
    group = await scim.create_group("g", [ann])
    other = await scim.create_group("h")
    for operation, scim_type in (
        ({"op": "add", "path": "members", "value": [{"value": "nobody"}]}, "invalidValue"),
        ({"op": "add", "path": "members", "value": [{"value": other["id"], "type": "Group"}]}, "invalidValue"),
        ({"op": "replace", "path": "displayName", "value": "H"}, "uniqueness"),
        ({"op": "replace", "path": "members[value eq", "value": []}, "invalidPath"),
        ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
        ({"op": "remove", "path": "displayName"}, "invalidValue"),
    ):
        answer = await scim.patch("Groups", group["id"], operation, status=409 if scim_type == "uniqueness" else 400)
        assert answer.body["scimType"] == scim_type, (operation, answer.body)
    assert await scim.get("Groups", group["id"]) == group


async def test_large_group_membership_changes(scim, users):
    ids = await users(30)
    group = await scim.create_group("big", ids[:25])
    answer = await scim.patch("Groups", group["id"], {"op": "add", "path": "members", "value": [{"value": i} for i in ids[25:]]},
                              {"op": "remove", "path": f'members[value eq "{ids[0]}"]'})
    assert len(answer.body["members"]) == 29


async def test_delete(scim, users):
    (ann,) = await users(1)
    group = await scim.create_group("doomed", [ann])
    assert (await scim.call("DELETE", f"/Groups/{group['id']}")).status == 204
    assert await Group.get_or_none(id=group["id"]) is None
    assert (await scim.call("GET", f"/Groups/{group['id']}")).status == 404
    assert (await scim.call("DELETE", f"/Groups/{group['id']}")).status == 404
    assert "groups" not in await scim.get("Users", ann)


async def test_deleting_a_user_removes_the_membership(scim, users):
    ann, bob = await users(2)
    group = await scim.create_group("g", [ann, bob])
    await scim.call("DELETE", f"/Users/{ann}")
    assert [m["value"] for m in (await scim.get("Groups", group["id"]))["members"]] == [bob]


async def test_local_members_added_by_an_admin_do_not_block_scim(scim, users, auth_headers):
    (ann,) = await users(1)
    group = await scim.create_group("mixed", [ann])
    admin = await auth_headers(scim.app, role="admin")
    from colonnade.auth.models import User

    admin_id = (await User.get(role="admin")).id
    response = await scim.client.post(f"/api/v1/groups/id/{group['id']}/users/add", json={"user_ids": [admin_id]},
                                      headers=admin)
    assert response.status_code == 200
    renamed = await scim.patch("Groups", group["id"], {"op": "replace", "path": "displayName", "value": "mixed2"})
    assert sorted(m["value"] for m in renamed.body["members"]) == sorted([ann, admin_id])
    replaced = await scim.call("PUT", f"/Groups/{group['id']}", {"schemas": [GROUP_SCHEMA], "displayName": "m",
                                                                "members": [{"value": ann}]})
    assert [m["value"] for m in replaced.body["members"]] == [ann]  # the identity provider owns the group

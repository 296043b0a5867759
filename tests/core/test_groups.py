"""Groups: admin-only CRUD and membership at ``/api/groups`` and Open WebUI's ``/api/v1/groups``."""

from __future__ import annotations

import uuid

import pytest

from colonnade.auth.models import Group

pytestmark = pytest.mark.asyncio


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def signup(client, name):
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com"
    response = await client.post("/api/auth/signup", json={"name": name, "email": email, "password": "pw"})
    return await response.get_json()


@pytest.fixture
def team():
    """``await team(app)`` -> (client, admin headers, [user sessions])."""

    async def make(app, users=2):
        client = app.test_client(use_cookies=False)
        admin = await signup(client, "Admin")
        members = [await signup(client, f"User{number}") for number in range(users)]
        return client, bearer(admin["token"]), members

    return make


async def test_group_crud_at_the_spec_paths(app, team):
    client, admin, (alice, bob) = await team(app)
    created = await client.post(
        "/api/groups",
        json={"name": "Writers", "description": "prose", "permissions": {"workspace": {"models": True}}},
        headers=admin,
    )
    assert created.status_code == 201
    group = await created.get_json()
    assert (group["name"], group["description"], group["user_ids"], group["member_count"]) == (
        "Writers",
        "prose",
        [],
        0,
    )
    assert group["permissions"] == {"workspace": {"models": True}}

    listed = await (await client.get("/api/groups", headers=admin)).get_json()
    assert [item["id"] for item in listed] == [group["id"]]
    read = await (await client.get(f"/api/groups/{group['id']}", headers=admin)).get_json()
    assert read == group

    updated = await client.post(
        f"/api/groups/{group['id']}",
        json={"name": "Authors", "user_ids": [alice["id"], bob["id"]]},
        headers=admin,
    )
    assert updated.status_code == 200
    body = await updated.get_json()
    assert body["name"] == "Authors" and body["description"] == "prose"
    assert body["user_ids"] == sorted([alice["id"], bob["id"]]) and body["member_count"] == 2
    assert body["updated_at"] >= group["updated_at"]

    deleted = await client.delete(f"/api/groups/{group['id']}", headers=admin)
    assert deleted.status_code == 200 and await deleted.get_json() is True
    assert (await client.get(f"/api/groups/{group['id']}", headers=admin)).status_code == 404
    assert await Group.all().count() == 0


async def test_group_routes_at_open_webui_paths(app, team):
    client, admin, (alice, bob) = await team(app)
    created = await client.post(
        "/api/v1/groups/create", json={"name": "Readers", "user_ids": [alice["id"]]}, headers=admin
    )
    assert created.status_code == 201
    group_id = (await created.get_json())["id"]
    assert (await (await client.get("/api/v1/groups/", headers=admin)).get_json())[0]["id"] == group_id
    assert (await (await client.get(f"/api/v1/groups/id/{group_id}", headers=admin)).get_json())[
        "user_ids"
    ] == [alice["id"]]

    added = await client.post(
        f"/api/v1/groups/id/{group_id}/users/add", json={"user_ids": [bob["id"]]}, headers=admin
    )
    assert (await added.get_json())["user_ids"] == sorted([alice["id"], bob["id"]])
    again = await client.post(
        f"/api/v1/groups/id/{group_id}/users/add", json={"user_ids": [bob["id"]]}, headers=admin
    )
    assert (await again.get_json())["member_count"] == 2  # adding twice is harmless
    removed = await client.post(
        f"/api/v1/groups/id/{group_id}/users/remove",
        json={"user_ids": [alice["id"], str(uuid.uuid4())]},
        headers=admin,
    )
    assert (await removed.get_json())["user_ids"] == [bob["id"]]
    renamed = await client.post(
        f"/api/v1/groups/id/{group_id}/update", json={"description": "d"}, headers=admin
    )
    assert (await renamed.get_json())["description"] == "d"

    # A member's groups show up on their user record.
    user = await (await client.get(f"/api/users/{bob['id']}", headers=admin)).get_json()
    assert user["groups"] == [{"id": group_id, "name": "Readers"}]
    listing = await (await client.get("/api/users?query=user1", headers=admin)).get_json()
    assert listing["users"][0]["group_ids"] == [group_id]

    assert (await client.delete(f"/api/v1/groups/id/{group_id}/delete", headers=admin)).status_code == 200
    assert (await client.delete(f"/api/v1/groups/id/{group_id}/delete", headers=admin)).status_code == 404


async def test_group_errors(app, team):
    client, admin, (alice,) = await team(app, users=1)
    group = await (await client.post("/api/groups", json={"name": "Taken"}, headers=admin)).get_json()
    other = await (await client.post("/api/groups", json={"name": "Other"}, headers=admin)).get_json()

    duplicate = await client.post("/api/groups", json={"name": "Taken"}, headers=admin)
    assert duplicate.status_code == 409
    rename_clash = await client.post(
        f"/api/groups/{other['id']}", json={"name": "Taken", "user_ids": [alice["id"]]}, headers=admin
    )
    assert rename_clash.status_code == 409
    # A refused update changes nothing, members included.
    unchanged = await (await client.get(f"/api/groups/{other['id']}", headers=admin)).get_json()
    assert (unchanged["name"], unchanged["user_ids"]) == ("Other", [])

    ghost = str(uuid.uuid4())
    unknown_member = await client.post(
        "/api/groups", json={"name": "New", "user_ids": [ghost]}, headers=admin
    )
    assert unknown_member.status_code == 400
    assert ghost in (await unknown_member.get_json())["detail"]
    assert not await Group.exists(name="New")
    too_long = await client.post(
        f"/api/v1/groups/id/{group['id']}/users/add", json={"user_ids": ["x" * 100]}, headers=admin
    )
    assert too_long.status_code == 400

    for body in ({}, {"name": ""}, {"name": "x", "permissions": {"chat": {"delete": "maybe"}}}, {"name": 3}):
        response = await client.post("/api/groups", json=body, headers=admin)
        assert response.status_code == 422, body
    for missing in (str(uuid.uuid4()), "y" * 300):
        for method, path in (
            ("GET", f"/api/groups/{missing}"),
            ("POST", f"/api/groups/{missing}"),
            ("DELETE", f"/api/groups/{missing}"),
            ("POST", f"/api/v1/groups/id/{missing}/users/add"),
        ):
            response = await client.open(path, method=method, json={"user_ids": []}, headers=admin)
            assert response.status_code == 404, (method, path)


async def test_groups_are_admin_only(app, team):
    client, admin, (alice,) = await team(app, users=1)
    group = await (await client.post("/api/groups", json={"name": "G"}, headers=admin)).get_json()
    user = bearer(alice["token"])
    for method, path in [
        ("GET", "/api/groups"),
        ("GET", "/api/v1/groups/"),
        ("POST", "/api/groups"),
        ("POST", "/api/v1/groups/create"),
        ("GET", f"/api/groups/{group['id']}"),
        ("POST", f"/api/groups/{group['id']}"),
        ("POST", f"/api/v1/groups/id/{group['id']}/users/add"),
        ("DELETE", f"/api/groups/{group['id']}"),
    ]:
        body = {"name": "Mine", "user_ids": [alice["id"]]}
        response = await client.open(path, method=method, json=body, headers=user)
        assert response.status_code == 403, (method, path)
        assert (await client.open(path, method=method, json=body)).status_code == 401
    assert (await (await client.get(f"/api/groups/{group['id']}", headers=admin)).get_json())[
        "user_ids"
    ] == []


async def test_group_permissions_reach_the_members_session(app, team):
    client, admin, (alice, bob) = await team(app)
    signin = {"email": alice["email"], "password": "pw"}
    before = await (await client.post("/api/auth/signin", json=signin)).get_json()
    assert before["permissions"]["workspace"]["models"] is False
    await client.post(
        "/api/groups",
        json={"name": "Modellers", "permissions": {"workspace": {"models": True}}, "user_ids": [alice["id"]]},
        headers=admin,
    )
    after = await (await client.post("/api/auth/signin", json=signin)).get_json()
    assert after["permissions"]["workspace"]["models"] is True
    assert after["permissions"]["workspace"]["knowledge"] is False
    me = await (await client.get("/api/auth/me", headers=bearer(after["token"]))).get_json()
    assert me["permissions"]["workspace"]["models"] is True
    other = await (await client.get("/api/auth/me", headers=bearer(bob["token"]))).get_json()
    assert other["permissions"]["workspace"]["models"] is False

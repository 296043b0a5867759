"""Users: admin listing and management, self-service, the primary admin's protection; both path sets."""

from __future__ import annotations

import base64
import uuid

import pytest

from colonnade.auth.models import ApiKey, User

pytestmark = pytest.mark.asyncio

NOT_FOUND = "We could not find what you're looking for :/"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def signup(client, name="Someone", email=None, password="pw"):
    email = email or f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com"
    response = await client.post(
        "/api/auth/signup", json={"name": name, "email": email, "password": password}
    )
    assert response.status_code == 200
    return await response.get_json()


@pytest.fixture
def people():
    """``await people(app)`` -> (primary admin session, user session, their clients' headers)."""

    async def make(app):
        client = app.test_client(use_cookies=False)
        primary = await signup(client, "Primary")
        user = await signup(client, "Bob")
        return primary, user

    return make


async def test_admin_lists_users_a_page_at_a_time(app, people):
    primary, user = await people(app)
    service = app.extensions["colonnade"].state("auth").service
    for number in range(33):
        await service.create_user(
            email=f"bulk{number:02}@example.com", name=f"Bulk {number:02}", password=None, role="user"
        )
    client = app.test_client(use_cookies=False)
    headers = bearer(primary["token"])

    for path in ("/api/users", "/api/users/", "/api/v1/users/"):
        first = await (await client.get(path, headers=headers)).get_json()
        assert first["total"] == 35 and len(first["users"]) == 30
    second = await (await client.get("/api/users?page=2", headers=headers)).get_json()
    assert len(second["users"]) == 5
    ids = {item["id"] for item in first["users"]} | {item["id"] for item in second["users"]}
    assert len(ids) == 35  # pages neither overlap nor skip anyone
    assert (await (await client.get("/api/users?page=3", headers=headers)).get_json())["users"] == []

    # Newest first by default; other orders and a case-insensitive filter on name or email.
    assert (
        first["users"][0]["name"] == "Bulk 32"
        or first["users"][0]["created_at"] >= first["users"][-1]["created_at"]
    )
    by_name = await (await client.get("/api/users?order_by=name&direction=asc", headers=headers)).get_json()
    assert [item["name"] for item in by_name["users"][:2]] == ["Bob", "Bulk 00"]
    found = await (await client.get("/api/v1/users/?query=BULK1", headers=headers)).get_json()
    assert found["total"] == 10 and all(item["name"].startswith("Bulk 1") for item in found["users"])
    found = await (await client.get("/api/users?query=primary-", headers=headers)).get_json()
    assert [item["id"] for item in found["users"]] == [primary["id"]]

    listed = {item["id"]: item for item in by_name["users"]}
    assert listed[user["id"]]["group_ids"] == [] and listed[user["id"]]["role"] == "user"


@pytest.mark.parametrize(
    "query", ["page=0", "page=-1", "page=x", "order_by=password_hash", "direction=up", "page=" + "9" * 30]
)
async def test_bad_listing_parameters_are_422(app, people, query):
    primary, _ = await people(app)
    response = await app.test_client().get(f"/api/users?{query}", headers=bearer(primary["token"]))
    assert response.status_code == 422
    assert (await response.get_json())["detail"].startswith("Invalid request")


async def test_a_user_cannot_list_or_delete_anyone(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    headers = bearer(user["token"])
    for path in ("/api/users", "/api/v1/users/"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 403
        assert "permission" in (await response.get_json())["detail"]
    for target in (primary["id"], user["id"], str(uuid.uuid4())):
        for path in (f"/api/users/{target}", f"/api/v1/users/{target}"):
            assert (await client.delete(path, headers=headers)).status_code == 403
    assert await User.all().count() == 2
    assert (await client.get("/api/users")).status_code == 401


async def test_a_user_reads_and_updates_their_own_profile_but_not_their_role(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    headers = bearer(user["token"])
    own = await client.get(f"/api/users/{user['id']}", headers=headers)
    assert own.status_code == 200
    assert (await own.get_json())["groups"] == []

    updated = await client.post(
        f"/api/users/{user['id']}", json={"name": "Robert", "bio": "hi"}, headers=headers
    )
    assert updated.status_code == 200
    assert (await updated.get_json())["name"] == "Robert"
    assert (await User.get(id=user["id"])).name == "Robert"

    for change in ({"role": "admin"}, {"role": "user"}, {"active": False}, {"password": "x"}):
        response = await client.post(f"/api/v1/users/{user['id']}/update", json=change, headers=headers)
        assert response.status_code == 403, change
        assert next(iter(change)) in (await response.get_json())["detail"]
    assert (await User.get(id=user["id"])).role == "user"

    # Someone else's account does not exist, as far as a user can tell.
    for method in ("GET", "POST"):
        response = await client.open(f"/api/users/{primary['id']}", method=method, json={}, headers=headers)
        assert response.status_code == 404
        assert await response.get_json() == {"detail": NOT_FOUND}


async def test_admin_changes_roles_and_profiles(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    admin = bearer(primary["token"])
    response = await client.post(f"/api/v1/users/{user['id']}/update", json={"role": "admin"}, headers=admin)
    assert response.status_code == 200 and (await response.get_json())["role"] == "admin"
    # The promotion applies to the token the user already holds.
    assert (await client.get("/api/users", headers=bearer(user["token"]))).status_code == 200
    await client.post(f"/api/users/{user['id']}", json={"role": "pending"}, headers=admin)
    assert (await client.get("/api/users", headers=bearer(user["token"]))).status_code == 403

    bad_role = await client.post(f"/api/users/{user['id']}", json={"role": "root"}, headers=admin)
    assert bad_role.status_code == 422
    changed = await client.post(
        f"/api/users/{user['id']}", json={"email": " NEW@Example.com "}, headers=admin
    )
    assert (await changed.get_json())["email"] == "new@example.com"
    taken = await client.post(f"/api/users/{user['id']}", json={"email": primary["email"]}, headers=admin)
    assert taken.status_code == 409
    invalid = await client.post(f"/api/users/{user['id']}", json={"email": "nope"}, headers=admin)
    assert invalid.status_code == 400


async def test_admin_sets_a_password_which_ends_the_users_sessions(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    response = await client.post(
        f"/api/users/{user['id']}", json={"password": "reset by admin"}, headers=bearer(primary["token"])
    )
    assert response.status_code == 200
    assert (await client.get("/api/auth/me", headers=bearer(user["token"]))).status_code == 401
    signin = await client.post(
        "/api/auth/signin", json={"email": user["email"], "password": "reset by admin"}
    )
    assert signin.status_code == 200


async def test_the_primary_admin_is_protected(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    await client.post(f"/api/users/{user['id']}", json={"role": "admin"}, headers=bearer(primary["token"]))
    other_admin = bearer(user["token"])
    for change in ({"name": "Hijacked"}, {"role": "user"}, {"active": False}, {"password": "x"}):
        response = await client.post(f"/api/users/{primary['id']}", json=change, headers=other_admin)
        assert response.status_code == 403, change
    for path in (f"/api/users/{primary['id']}", f"/api/v1/users/{primary['id']}"):
        assert (await client.delete(path, headers=other_admin)).status_code == 403
    own = bearer(primary["token"])
    assert (
        await client.post(f"/api/users/{primary['id']}", json={"role": "user"}, headers=own)
    ).status_code == 403
    assert (
        await client.post(f"/api/users/{primary['id']}", json={"active": False}, headers=own)
    ).status_code == 403
    renamed = await client.post(f"/api/users/{primary['id']}", json={"name": "Prime"}, headers=own)
    assert renamed.status_code == 200
    stored = await User.get(id=primary["id"])
    assert (stored.name, stored.role, stored.active) == ("Prime", "admin", True)


async def test_an_admin_cannot_delete_their_own_account(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    await client.post(f"/api/users/{user['id']}", json={"role": "admin"}, headers=bearer(primary["token"]))
    for who in (primary, user):
        response = await client.delete(f"/api/users/{who['id']}", headers=bearer(who["token"]))
        assert response.status_code == 403
        assert "own account" in (await response.get_json())["detail"]
    assert await User.all().count() == 2


async def test_admin_deletes_a_user_with_their_keys_and_memberships(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    admin = bearer(primary["token"])
    key = (await (await client.post("/api/auth/api_key", headers=bearer(user["token"]))).get_json())[
        "api_key"
    ]
    group = await (
        await client.post("/api/groups", json={"name": "team", "user_ids": [user["id"]]}, headers=admin)
    ).get_json()

    response = await client.delete(f"/api/v1/users/{user['id']}", headers=admin)
    assert response.status_code == 200 and await response.get_json() is True
    assert not await User.exists(id=user["id"])
    assert not await ApiKey.exists()
    assert (await (await client.get(f"/api/groups/{group['id']}", headers=admin)).get_json())[
        "user_ids"
    ] == []
    for headers in (bearer(user["token"]), bearer(key)):
        assert (await client.get(f"/api/users/{user['id']}", headers=headers)).status_code == 401
    # The address is free again.
    assert (
        await client.post("/api/auth/signup", json={"name": "B", "email": user["email"], "password": "p"})
    ).status_code == 200


async def test_unknown_user_ids_are_404(app, people):
    primary, _ = await people(app)
    client = app.test_client(use_cookies=False)
    admin = bearer(primary["token"])
    missing = str(uuid.uuid4())
    for method, path in [
        ("GET", f"/api/users/{missing}"),
        ("GET", f"/api/v1/users/{missing}"),
        ("POST", f"/api/users/{missing}"),
        ("POST", f"/api/v1/users/{missing}/update"),
        ("DELETE", f"/api/users/{missing}"),
        ("DELETE", f"/api/v1/users/{missing}"),
        ("GET", "/api/users/" + "x" * 500),
    ]:
        response = await client.open(path, method=method, json={}, headers=admin)
        assert response.status_code == 404, (method, path)
        assert await response.get_json() == {"detail": NOT_FOUND}


@pytest.mark.parametrize("path", ["/api/users", "/api/v1/auths/add"])
async def test_admin_creates_accounts(app, people, path):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    body = {"name": "Carol", "email": "Carol@Example.com", "password": "pw", "role": "pending"}
    response = await client.post(path, json=body, headers=bearer(primary["token"]))
    assert response.status_code == 201
    created = await response.get_json()
    assert (created["email"], created["role"]) == ("carol@example.com", "pending")
    assert (await client.post(path, json=body, headers=bearer(primary["token"]))).status_code == 409
    assert (
        await client.post(path, json={**body, "email": "x@example.com"}, headers=bearer(user["token"]))
    ).status_code == 403
    signin = await client.post("/api/auth/signin", json={"email": "carol@example.com", "password": "pw"})
    assert (await signin.get_json())["role"] == "pending"


# -- self-service routes Open WebUI's frontend reads, and avatars ---------------------------------


@pytest.mark.parametrize("prefix", ["/api/users", "/api/v1/users"])
async def test_own_settings_and_info(app, people, prefix):
    _, user = await people(app)
    client = app.test_client(use_cookies=False)
    headers = bearer(user["token"])
    assert await (await client.get(f"{prefix}/user/settings", headers=headers)).get_json() == {}
    settings = {"ui": {"theme": "dark", "models": ["m1"]}}
    saved = await client.post(f"{prefix}/user/settings/update", json=settings, headers=headers)
    assert saved.status_code == 200 and await saved.get_json() == settings
    assert await (await client.get(f"{prefix}/user/settings", headers=headers)).get_json() == settings

    await client.post(f"{prefix}/user/info/update", json={"location": "Paris"}, headers=headers)
    merged = await client.post(f"{prefix}/user/info/update", json={"team": "red"}, headers=headers)
    assert await merged.get_json() == {"location": "Paris", "team": "red"}
    assert await (await client.get(f"{prefix}/user/info", headers=headers)).get_json() == {
        "location": "Paris",
        "team": "red",
    }

    assert (await client.post(f"{prefix}/user/settings/update", json=[1], headers=headers)).status_code == 422
    assert (await client.post(f"{prefix}/user/settings/update", headers=headers)).status_code == 422
    wrong_type = await client.post(
        f"{prefix}/user/settings/update", data=b"ui=1", headers={**headers, "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert (await client.get(f"{prefix}/user/settings")).status_code == 401


async def test_own_permissions_and_groups(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    headers = bearer(user["token"])
    tree = await (await client.get("/api/v1/users/permissions", headers=headers)).get_json()
    assert tree["workspace"]["models"] is False and tree["chat"]["delete"] is True
    assert await (await client.get("/api/v1/users/groups", headers=headers)).get_json() == []
    await client.post(
        "/api/groups",
        json={"name": "Ops", "permissions": {"workspace": {"models": True}}, "user_ids": [user["id"]]},
        headers=bearer(primary["token"]),
    )
    tree = await (await client.get("/api/users/permissions", headers=headers)).get_json()
    assert tree["workspace"]["models"] is True
    groups = await (await client.get("/api/users/groups", headers=headers)).get_json()
    assert [group["name"] for group in groups] == ["Ops"]


async def test_profile_images(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    headers = bearer(user["token"])
    default = await client.get(f"/api/v1/users/{primary['id']}/profile/image", headers=headers)
    assert default.status_code == 200 and default.mimetype == "image/svg+xml"
    assert ">P</text>" in await default.get_data(as_text=True)
    assert "sandbox" in default.headers["Content-Security-Policy"]
    assert primary["profile_image_url"] == f"/api/v1/users/{primary['id']}/profile/image"

    png = b"\x89PNG\r\n\x1a\nfake"
    data_uri = "data:image/png;base64," + base64.b64encode(png).decode()
    updated = await client.post(
        f"/api/users/{user['id']}", json={"profile_image_url": data_uri}, headers=headers
    )
    assert updated.status_code == 200
    image = await client.get(f"/api/users/{user['id']}/profile/image", headers=headers)
    assert image.mimetype == "image/png" and await image.get_data() == png

    for bad in ("javascript:alert(1)", "data:image/svg+xml;base64,PHN2Zz4=", "//evil.example/x.png", "x.png"):
        for method, path in (
            ("POST", f"/api/users/{user['id']}"),
            ("POST", "/api/auth/update/profile"),
            ("POST", "/api/auth/signup"),
        ):
            body = {"profile_image_url": bad, "name": "N", "email": "n@example.com", "password": "p"}
            response = await client.open(path, method=method, json=body, headers=headers)
            assert response.status_code == 422, (bad, path)
    assert (await client.get(f"/api/users/{uuid.uuid4()}/profile/image", headers=headers)).status_code == 404
    assert (await client.get(f"/api/users/{user['id']}/profile/image")).status_code == 401


async def test_all_users_and_revoking_a_users_sessions(app, people):
    primary, user = await people(app)
    client = app.test_client(use_cookies=False)
    admin = bearer(primary["token"])
    everyone = await (await client.get("/api/v1/users/all", headers=admin)).get_json()
    assert everyone["total"] == 2 and {item["name"] for item in everyone["users"]} == {"Primary", "Bob"}
    assert (await client.get("/api/v1/users/all", headers=bearer(user["token"]))).status_code == 403

    key = (await (await client.post("/api/auth/api_key", headers=bearer(user["token"]))).get_json())[
        "api_key"
    ]
    second = await client.post("/api/auth/signin", json={"email": user["email"], "password": "pw"})
    response = await client.post(f"/api/v1/users/{user['id']}/sessions/revoke", headers=admin)
    assert response.status_code == 200 and await response.get_json() is True
    for token in (user["token"], (await second.get_json())["token"]):
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 401
    assert (await client.get(f"/api/users/{user['id']}", headers=bearer(key))).status_code == 200

    await client.post(f"/api/users/{user['id']}", json={"role": "admin"}, headers=admin)
    fresh = await client.post("/api/auth/signin", json={"email": user["email"], "password": "pw"})
    other_admin = bearer((await fresh.get_json())["token"])
    refused = await client.post(f"/api/users/{primary['id']}/sessions/revoke", headers=other_admin)
    assert refused.status_code == 403
    assert (await client.post(f"/api/users/{uuid.uuid4()}/sessions/revoke", headers=admin)).status_code == 404

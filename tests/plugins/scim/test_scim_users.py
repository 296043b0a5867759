"""Users: create, read, replace, delete, the enterprise extension, uniqueness and bad input; and
what provisioning means for the core account (sign-in, deactivation)."""

from __future__ import annotations

import pytest
from scim_helpers import ENTERPRISE, USER_SCHEMA, user_body, validate

from colonnade.auth.models import User

pytestmark = pytest.mark.asyncio

FULL = {
    "externalId": "00u1abc",
    "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara",
             "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
    "displayName": "Babs Jensen",
    "nickName": "Babs",
    "title": "Tour Guide",
    "userType": "Employee",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "active": True,
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
               {"value": "babs@jensen.org", "type": "home"}],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
    "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                   "region": "CA", "postalCode": "91608", "country": "USA", "formatted": "100 Universal",
                   "primary": True}],
}


async def test_create_returns_201_with_location_etag_and_everything_stored(scim):
    answer = await scim.call("POST", "/Users", {**user_body("bjensen"), **FULL, "schemas": [USER_SCHEMA, ENTERPRISE],
                                                ENTERPRISE: {"employeeNumber": "701984", "department": "Tour"}})
    assert answer.status == 201, answer.body
    user = answer.body
    validate("User", user)
    assert answer.headers["Location"] == user["meta"]["location"]
    assert answer.headers["ETag"] == user["meta"]["version"]
    for key, value in FULL.items():
        assert user[key] == value, key
    assert user["userName"] == "bjensen"
    assert user[ENTERPRISE] == {"employeeNumber": "701984", "department": "Tour"}
    assert set(user["schemas"]) == {USER_SCHEMA, ENTERPRISE}
    assert user["meta"]["resourceType"] == "User"
    assert user["meta"]["created"] <= user["meta"]["lastModified"]
    assert await scim.get("Users", user["id"]) == user
    core = await User.get(id=user["id"])
    assert core.email == "bjensen@example.com"  # the primary email is the sign-in address
    assert core.name == "Babs Jensen" and core.timezone == "America/Los_Angeles"
    assert core.password_hash is None and core.role == "user" and core.active


async def test_names_and_email_fall_back_sensibly(scim):
    user = await scim.create_user("Carl@Example.com", name={"givenName": "Carl", "familyName": "Berg"})
    core = await User.get(id=user["id"])
    assert core.email == "carl@example.com" and core.name == "Carl Berg"
    assert user["displayName"] == "Carl Berg" and user["userName"] == "Carl@Example.com"
    formatted = await scim.create_user("dora@example.com", name={"formatted": "Dora D."})
    assert formatted["displayName"] == "Dora D."
    bare = await scim.create_user("eve@example.com")
    assert bare["displayName"] == "eve@example.com"


async def test_default_role_comes_from_the_config(make_scim):
    env = await make_scim({"default_role": "pending"})
    user = await env.create_user()
    assert (await User.get(id=user["id"])).role == "pending"


async def test_created_inactive(scim):
    user = await scim.create_user(active="False")  # Entra ID's string boolean
    assert user["active"] is False
    assert not (await User.get(id=user["id"])).active


@pytest.mark.parametrize(
    ("body", "status", "scim_type"),
    [
        ({"schemas": [USER_SCHEMA]}, 400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": "  "}, 400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": 5.5}, 400, "invalidValue"),
        ({"userName": "x@example.com"}, 400, "invalidSyntax"),
        ({"schemas": [ENTERPRISE], "userName": "x@example.com"}, 400, "invalidSyntax"),
        ({"schemas": [USER_SCHEMA], "userName": "x@example.com", "active": "maybe"}, 400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": "x@example.com", "name": "Ann"}, 400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": "x@example.com", "emails": [{"type": "work"}]}, 400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": "x@example.com",
          "emails": [{"value": "a@example.com", "primary": True}, {"value": "b@example.com", "primary": True}]},
         400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": "not-an-email"}, 400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": "x@example.com", "title": "t" * 256}, 400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": "x@example.com", "emails": [{"value": "x@example.com", "type": "t" * 65}]},
         400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": "x@example.com", "timezone": "z" * 65}, 400, "invalidValue"),
        ({"schemas": [USER_SCHEMA], "userName": "x@example.com", ENTERPRISE: {"manager": "nobody"}},
         400, "invalidValue"),
        ([1, 2], 400, "invalidSyntax"),
    ],
)
async def test_bad_users_are_refused_and_nothing_is_stored(scim, body, status, scim_type):
    answer = await scim.call("POST", "/Users", body)
    assert answer.status == status, answer.body
    assert answer.body["scimType"] == scim_type
    assert await User.all().count() == 0


async def test_bad_bodies(scim):
    broken = await scim.call("POST", "/Users", raw=b"{not json")
    assert broken.status == 400 and broken.body["scimType"] == "invalidSyntax"
    text = await scim.call("POST", "/Users", raw=b"userName=x", content_type="text/plain")
    assert text.status == 415
    plain_json = await scim.call("POST", "/Users", user_body("json@example.com"), content_type="application/json")
    assert plain_json.status == 201


async def test_user_name_is_unique_regardless_of_case(scim):
    await scim.create_user("Ann@Example.com")
    clash = await scim.call("POST", "/Users", user_body("ann@example.COM"))
    assert clash.status == 409 and clash.body["scimType"] == "uniqueness"
    assert await User.all().count() == 1


async def test_the_sign_in_email_is_unique_too(scim, auth_headers):
    await auth_headers(scim.app, email="local@example.com")  # a local account, not provisioned
    clash = await scim.call("POST", "/Users", user_body("someone", emails=[{"value": "local@example.com"}]))
    assert clash.status == 409 and clash.body["scimType"] == "uniqueness"
    first = await scim.create_user("a@example.com")
    second = await scim.create_user("b@example.com")
    body = user_body("b@example.com", emails=[{"value": "a@example.com", "primary": True}])
    taken = await scim.call("PUT", f"/Users/{second['id']}", body)
    assert taken.status == 409 and taken.body["scimType"] == "uniqueness"
    assert (await scim.get("Users", first["id"]))["userName"] == "a@example.com"


async def test_local_accounts_are_invisible(scim, auth_headers):
    await auth_headers(scim.app, role="admin")
    local = await User.get(role="admin")
    assert (await scim.list("Users")).body["totalResults"] == 0
    for method in ("GET", "DELETE"):
        answer = await scim.call(method, f"/Users/{local.id}")
        assert answer.status == 404 and answer.body["status"] == "404"
    assert (await scim.call("PUT", f"/Users/{local.id}", user_body("x@example.com"))).status == 404


async def test_unknown_and_absurd_ids_are_404(scim):
    for user_id in ("nope", "x" * 300):
        for method, body in (("GET", None), ("PUT", user_body()), ("PATCH", None), ("DELETE", None)):
            answer = await scim.call(method, f"/Users/{user_id}", body)
            assert answer.status == 404, (method, answer.body)


async def test_replace_sets_what_is_sent_and_clears_the_rest(scim):
    user = await scim.create_user("fred@example.com", **{k: v for k, v in FULL.items() if k != "emails"})
    body = user_body("fred.new@example.com", displayName="Fred", emails=[{"value": "fred.new@example.com"}],
                     id="ignored", meta={"created": "2000-01-01T00:00:00Z"}, groups=[{"value": "x"}])
    answer = await scim.call("PUT", f"/Users/{user['id']}", body)
    assert answer.status == 200, answer.body
    replaced = answer.body
    validate("User", replaced)
    assert replaced["id"] == user["id"] and replaced["meta"]["created"] == user["meta"]["created"]
    assert replaced["userName"] == "fred.new@example.com" and replaced["displayName"] == "Fred"
    for cleared in ("name", "nickName", "title", "phoneNumbers", "addresses", "externalId", "timezone"):
        assert cleared not in replaced, cleared
    assert replaced["active"] is True  # active left out of a PUT keeps its value
    assert replaced["meta"]["version"] != user["meta"]["version"]
    assert answer.headers["ETag"] == replaced["meta"]["version"]
    core = await User.get(id=user["id"])
    assert core.email == "fred.new@example.com" and core.name == "Fred" and core.timezone is None


async def test_delete_removes_the_account(scim):
    user = await scim.create_user()
    answer = await scim.call("DELETE", f"/Users/{user['id']}")
    assert answer.status == 204 and answer.body is None
    assert await User.get_or_none(id=user["id"]) is None
    assert (await scim.call("GET", f"/Users/{user['id']}")).status == 404
    assert (await scim.call("DELETE", f"/Users/{user['id']}")).status == 404


async def test_manager_is_another_provisioned_user(scim):
    boss = await scim.create_user("boss@example.com")
    worker = await scim.create_user("worker@example.com", **{ENTERPRISE: {"manager": {"value": boss["id"]}}})
    assert worker[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert worker[ENTERPRISE]["manager"]["$ref"].endswith(f"/Users/{boss['id']}")
    self_managed = await scim.call("PUT", f"/Users/{boss['id']}",
                                   user_body("boss@example.com", **{ENTERPRISE: {"manager": boss["id"]}}))
    assert self_managed.status == 400 and self_managed.body["scimType"] == "invalidValue"
    await scim.call("DELETE", f"/Users/{boss['id']}")
    assert ENTERPRISE not in await scim.get("Users", worker["id"])


async def test_deactivation_disables_sign_in_and_revokes_tokens_and_api_keys(scim):
    user = await scim.create_user("gina@example.com")
    service = scim.app.extensions["colonnade"].state("auth").service
    account = await User.get(id=user["id"])
    session = {"Authorization": f"Bearer {service.issue(account).token}"}
    _, key = await service.create_api_key(account)
    api_key = {"Authorization": f"Bearer {key}"}
    for headers in (session, api_key):
        assert (await scim.client.get(f"/api/users/{user['id']}", headers=headers)).status_code == 200
    await scim.patch("Users", user["id"], {"op": "Replace", "path": "active", "value": "False"})
    for headers in (session, api_key):
        assert (await scim.client.get(f"/api/users/{user['id']}", headers=headers)).status_code == 401
    account = await User.get(id=user["id"])
    assert not account.active
    new_token = {"Authorization": f"Bearer {service.issue(account).token}"}
    assert (await scim.client.get(f"/api/users/{user['id']}", headers=new_token)).status_code == 401
    await scim.patch("Users", user["id"], {"op": "replace", "value": {"active": True}})
    # Reactivated: the API key works again, the old session stays revoked, a new session works.
    assert (await scim.client.get(f"/api/users/{user['id']}", headers=api_key)).status_code == 200
    assert (await scim.client.get(f"/api/users/{user['id']}", headers=session)).status_code == 401
    account = await User.get(id=user["id"])
    fresh = {"Authorization": f"Bearer {service.issue(account).token}"}
    assert (await scim.client.get(f"/api/users/{user['id']}", headers=fresh)).status_code == 200


async def test_a_deactivated_user_cannot_sign_in_with_a_password(scim):
    user = await scim.create_user("hal@example.com")
    service = scim.app.extensions["colonnade"].state("auth").service
    account = await User.get(id=user["id"])
    await service.set_password(account, "correct horse battery")
    form = {"email": "hal@example.com", "password": "correct horse battery"}
    assert (await scim.client.post("/api/auth/signin", json=form)).status_code == 200
    await scim.call("PUT", f"/Users/{user['id']}", user_body("hal@example.com", active=False))
    assert (await scim.client.post("/api/auth/signin", json=form)).status_code == 401


async def test_core_changes_show_in_scim(scim, auth_headers):
    user = await scim.create_user("ivy@example.com")
    admin = await auth_headers(scim.app, role="admin")
    response = await scim.client.post(f"/api/users/{user['id']}", json={"name": "Ivy Core"}, headers=admin)
    assert response.status_code == 200
    again = await scim.get("Users", user["id"])
    assert again["displayName"] == "Ivy Core" and again["meta"]["version"] != user["meta"]["version"]


async def test_concurrent_creates_of_one_user_name_make_one_account(scim):
    import asyncio

    answers = await asyncio.gather(*(scim.call("POST", "/Users", user_body("race@example.com")) for _ in range(6)))
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [201] + [409] * 5, [answer.body for answer in answers]
    assert all(a.body["scimType"] == "uniqueness" for a in answers if a.status == 409)
    assert await User.filter(email="race@example.com").count() == 1

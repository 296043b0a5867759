"""Sign-up, sign-in, sign-out, sessions (JWT), password changes over HTTP.

Every route is exercised at the spec path (``/api/auth/...``) and at Open WebUI's
(``/api/v1/auths/...``). Tokens for the negative cases are minted here with pyjwt.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import jwt
import pytest

from colonnade.auth.models import RevokedToken, User

pytestmark = pytest.mark.asyncio

PREFIXES = ["/api/auth", "/api/v1/auths"]
PASSWORD = "correct horse battery staple"
INVALID_CRED = "The email or password provided is incorrect. Please check for typos and try logging in again."
INVALID_TOKEN = "Your session has expired or the token is invalid. Please sign in again."


def new_email(tag: str = "someone") -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.com"


async def signup(client, email=None, password=PASSWORD, name="Someone", prefix="/api/auth"):
    return await client.post(
        f"{prefix}/signup", json={"name": name, "email": email or new_email(), "password": password}
    )


async def signin(client, email, password=PASSWORD, prefix="/api/auth", **kwargs):
    return await client.post(f"{prefix}/signin", json={"email": email, "password": password}, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secret_of(app) -> str:
    return app.extensions["colonnade"].settings.auth.secret_key.get_secret_value()


# -- sign-up -------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_first_signup_becomes_admin_and_later_ones_users(app, prefix):
    client = app.test_client()
    first = await signup(client, "Ada@Example.com", name="Ada", prefix=prefix)
    assert first.status_code == 200
    body = await first.get_json()
    assert body["role"] == "admin"
    assert body["email"] == "ada@example.com"
    assert body["token_type"] == "Bearer"
    assert body["expires_at"] > time.time()
    assert body["profile_image_url"] == f"/api/v1/users/{body['id']}/profile/image"
    assert body["permissions"]["chat"]["delete"] is True
    assert body["permissions"]["workspace"]["models"] is True  # admins may do everything ...
    assert body["permissions"]["chat"]["temporary_enforced"] is False  # ... and are never restricted
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"token={body['token']};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    second = await signup(client, prefix=prefix)
    assert second.status_code == 200
    assert (await second.get_json())["role"] == "user"
    primary = await User.get(id=body["id"])
    assert primary.is_primary_admin


async def test_default_role_pending_makes_later_signups_pending(make_app):
    app = await make_app({"auth": {"default_user_role": "pending"}})
    client = app.test_client(use_cookies=False)
    assert (await (await signup(client)).get_json())["role"] == "admin"
    pending = await (await signup(client)).get_json()
    assert pending["role"] == "pending"
    headers = bearer(pending["token"])

    # A pending account has a session: it can see itself and the trimmed configuration ...
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    assert (await client.get(f"/api/users/{pending['id']}", headers=headers)).status_code == 200
    config = await (await client.get("/api/config", headers=headers)).get_json()
    assert "enable_api_keys" not in config["features"] and "ui" in config
    # ... and nothing that needs a verified user.
    for method, path in [
        ("POST", "/api/auth/api_key"),
        ("GET", "/api/v1/auths/api_key"),
        ("GET", "/api/users"),
    ]:
        response = await client.open(path, method=method, headers=headers)
        assert response.status_code == 403, path
        assert "permission" in (await response.get_json())["detail"]


async def test_signup_can_be_switched_off_after_the_first_account(make_app):
    app = await make_app({"auth": {"enable_signup": False}})
    client = app.test_client()
    assert (await signup(client)).status_code == 200  # the first account is always possible
    for prefix in PREFIXES:
        response = await signup(client, prefix=prefix)
        assert response.status_code == 403
        assert (await response.get_json())["detail"].startswith("Sign-up is disabled")
    assert await User.all().count() == 1
    config = await (await app.test_client().get("/api/config")).get_json()
    assert config["features"]["enable_signup"] is False


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_duplicate_email_is_refused_whatever_its_case(client, prefix):
    assert (await signup(client, "dup@example.com", prefix=prefix)).status_code == 200
    response = await signup(client, " DUP@example.COM ", prefix=prefix)
    assert response.status_code == 409
    assert "already registered" in (await response.get_json())["detail"]
    assert await User.all().count() == 1


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"name": "A", "email": "not-an-email", "password": PASSWORD}, 400, "email format"),
        ({"name": "A", "email": "a@b", "password": PASSWORD}, 400, "email format"),
        ({"name": "A", "email": "a b@example.com", "password": PASSWORD}, 400, "email format"),
        ({"name": "A", "email": "a@example.com", "password": ""}, 422, "password"),
        ({"name": "A", "email": "a@example.com"}, 422, "password: Field required"),
        ({"email": "a@example.com", "password": PASSWORD}, 422, "name: Field required"),
        ({"name": "", "email": "a@example.com", "password": PASSWORD}, 422, "name"),
        ({"name": "A", "email": 5, "password": PASSWORD}, 422, "email"),
        ({"name": "A", "email": "a@example.com", "password": "x" * 1025}, 422, "password"),
        ([], 422, "Invalid request"),
    ],
)
async def test_bad_signups_are_4xx_json_and_store_nothing(client, body, status, fragment):
    response = await client.post("/api/auth/signup", json=body)
    assert response.status_code == status
    data = await response.get_json()
    assert isinstance(data["detail"], str) and fragment in data["detail"]
    if status == 422:
        assert data["errors"] and all({"loc", "msg", "type"} <= set(item) for item in data["errors"])
    assert await User.all().count() == 0


async def test_localhost_addresses_are_accepted(client):
    response = await signup(client, "admin@localhost")
    assert response.status_code == 200


# -- sign-in, the session, sign-out --------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_signin_gives_a_token_that_works_from_header_and_cookie(app, prefix):
    email = new_email()
    await signup(app.test_client(), email)
    client = app.test_client(use_cookies=False)
    response = await signin(client, email.upper(), prefix=prefix)
    assert response.status_code == 200
    session = await response.get_json()
    assert session["email"] == email and session["role"] == "admin"
    assert response.headers["Set-Cookie"].startswith(f"token={session['token']};")

    for headers in (bearer(session["token"]), {"Cookie": f"token={session['token']}"}):
        me = await client.get(f"{prefix}/", headers=headers)
        assert me.status_code == 200
        body = await me.get_json()
        assert body["id"] == session["id"] and body["token"] == session["token"]
    assert (await client.get("/api/auth/me", headers=bearer(session["token"]))).status_code == 200

    # A client that keeps cookies is signed in by the cookie alone.
    cookie_client = app.test_client()
    await signin(cookie_client, email, prefix=prefix)
    assert (await cookie_client.get(f"{prefix}/")).status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_wrong_password_and_unknown_account_get_the_same_answer(client, prefix):
    email = new_email()
    await signup(client, email)
    for who, password in ((email, "wrong password"), (new_email(), PASSWORD), (email, "")):
        response = await signin(client, who, password, prefix=prefix)
        assert response.status_code == 401
        assert await response.get_json() == {"detail": INVALID_CRED}
        assert "Set-Cookie" not in response.headers
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_no_credential_is_401_not_authenticated(app):
    client = app.test_client(use_cookies=False)
    response = await client.get("/api/auth/me")
    assert response.status_code == 401
    assert await response.get_json() == {"detail": "Not authenticated"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_signout_revokes_the_token_and_clears_the_cookie(app, prefix):
    client = app.test_client(use_cookies=False)
    session = await (await signup(client)).get_json()
    other = await (await signin(client, session["email"])).get_json()
    response = await client.post(f"{prefix}/signout", headers=bearer(session["token"]))
    assert response.status_code == 200
    assert await response.get_json() == {"status": True}
    assert re.match(r"token=;.*(Expires=Thu, 01 Jan 1970|Max-Age=0)", response.headers["Set-Cookie"])

    for headers in (bearer(session["token"]), {"Cookie": f"token={session['token']}"}):
        revoked = await client.get("/api/auth/me", headers=headers)
        assert revoked.status_code == 401
        assert (await revoked.get_json())["detail"] == INVALID_TOKEN
    # Only that session ends: the user's other sign-in still works.
    assert (await client.get("/api/auth/me", headers=bearer(other["token"]))).status_code == 200
    assert await RevokedToken.all().count() == 1


async def test_signout_by_cookie_and_without_any_token(app):
    client = app.test_client()
    session = await (await signup(client)).get_json()
    assert (await client.post("/api/auth/signout")).status_code == 200
    assert (await client.get("/api/auth/me")).status_code == 401
    assert (await client.get("/api/auth/me", headers=bearer(session["token"]))).status_code == 401
    anonymous = app.test_client(use_cookies=False)
    assert (await anonymous.post("/api/auth/signout")).status_code == 200
    assert (await anonymous.post("/api/auth/signout", headers=bearer("junk"))).status_code == 200


def claims_for(user: User, **override) -> dict:
    now = int(time.time())
    claims = {
        "id": user.id,
        "typ": "session",
        "session_stamp": user.session_stamp,
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    claims.update(override)
    return {key: value for key, value in claims.items() if value is not None}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 forgery
async def test_forged_and_expired_tokens_are_refused(app):
    client = app.test_client(use_cookies=False)
    session = await (await signup(client)).get_json()
    user = await User.get(id=session["id"])
    secret = secret_of(app)

    good = jwt.encode(claims_for(user), secret, algorithm="HS256")
    assert (await client.get("/api/auth/me", headers=bearer(good))).status_code == 200

    header, payload, signature = session["token"].split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    unsigned = jwt.encode(claims_for(user), None, algorithm="none")
    forged = {
        "expired": jwt.encode(
            claims_for(user, iat=int(time.time()) - 100, exp=int(time.time()) - 10), secret
        ),
        "tampered signature": f"{header}.{payload}.{flipped}",
        "tampered payload": good.split(".")[0] + "." + payload[:-3] + "AAA." + good.split(".")[2],
        "alg none": unsigned,
        "alg none, no signature dot": unsigned.rstrip("."),
        "other secret": jwt.encode(claims_for(user), "another secret entirely, 32 bytes+", algorithm="HS256"),
        "other algorithm": jwt.encode(claims_for(user), secret, algorithm="HS512"),
        "no exp": jwt.encode(claims_for(user, exp=None), secret),
        "no jti": jwt.encode(claims_for(user, jti=None), secret),
        "not a session": jwt.encode(claims_for(user, typ="refresh"), secret),
        "stale session stamp": jwt.encode(claims_for(user, session_stamp="0" * 32), secret),
        "unknown user": jwt.encode(claims_for(user, id=str(uuid.uuid4())), secret),
        "garbage": "not.a.jwt",
    }
    for what, token in forged.items():
        for headers in (bearer(token), {"Cookie": f"token={token}"}):
            response = await client.get("/api/auth/me", headers=headers)
            assert response.status_code == 401, what
            assert await response.get_json() == {"detail": INVALID_TOKEN}, what


async def test_role_comes_from_storage_not_from_the_token(app, auth_headers):
    client = app.test_client(use_cookies=False)
    headers = await auth_headers(app, role="user")
    assert (await client.get("/api/users", headers=headers)).status_code == 403
    user = await User.get(role="user")
    # A bulk update skips the ORM's signals: on PostgreSQL this worker learns of it from the database's
    # notice, about a millisecond later (colonnade.auth.remembered); wait for that, not for a time.
    remembered = app.extensions["colonnade"].state("auth").service.remembered
    notice = remembered.next_notice() if remembered.listening else None
    await User.filter(id=user.id).update(role="admin")
    if notice is not None:
        assert await asyncio.wait_for(notice, 10) == f"user:{user.id}"
    assert (await client.get("/api/users", headers=headers)).status_code == 200


async def test_password_change_revokes_every_session(app):
    client = app.test_client(use_cookies=False)
    session = await (await signup(client)).get_json()
    other = await (await signin(client, session["email"])).get_json()
    headers = bearer(session["token"])

    wrong = await client.post(
        "/api/auth/update/password", json={"password": "nope", "new_password": "new secret"}, headers=headers
    )
    assert wrong.status_code == 400
    assert (await wrong.get_json())["detail"].startswith("The password provided is incorrect")

    changed = await client.post(
        "/api/v1/auths/update/password",
        json={"password": PASSWORD, "new_password": "new secret"},
        headers=headers,
    )
    assert changed.status_code == 200
    assert await changed.get_json() is True
    for token in (session["token"], other["token"]):
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 401
    assert (await signin(client, session["email"])).status_code == 401
    assert (await signin(client, session["email"], "new secret")).status_code == 200


async def test_deactivated_account_cannot_sign_in_or_use_its_tokens(app, auth_headers):
    client = app.test_client(use_cookies=False)
    admin = await auth_headers(app, role="admin")
    email = new_email()
    user = await (await signup(client, email)).get_json()
    key = await (await client.post("/api/auth/api_key", headers=bearer(user["token"]))).get_json()

    response = await client.post(f"/api/users/{user['id']}", json={"active": False}, headers=admin)
    assert response.status_code == 200 and (await response.get_json())["active"] is False
    assert (await client.get("/api/auth/me", headers=bearer(user["token"]))).status_code == 401
    assert (await client.get(f"/api/users/{user['id']}", headers=bearer(key["api_key"]))).status_code == 401
    assert await (await signin(client, email)).get_json() == {"detail": INVALID_CRED}

    await client.post(f"/api/v1/users/{user['id']}/update", json={"active": True}, headers=admin)
    assert (await signin(client, email)).status_code == 200


async def test_profile_update_of_the_caller(app):
    client = app.test_client(use_cookies=False)
    session = await (await signup(client)).get_json()
    response = await client.post(
        "/api/v1/auths/update/profile",
        json={"name": "Renamed", "bio": "hello", "profile_image_url": "data:image/png;base64,AAAA"},
        headers=bearer(session["token"]),
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["name"], body["bio"]) == ("Renamed", "hello")
    bad = await client.post("/api/auth/update/profile", json={"name": ""}, headers=bearer(session["token"]))
    assert bad.status_code == 422


# -- configuration: the signing secret, token lifetime, cookie flags, the bootstrap admin ----------


async def test_a_secret_is_generated_once_into_the_data_directory(make_app, tmp_path):
    from colonnade.auth.tokens import load_or_create_secret

    app = await make_app({"auth": {"secret_key": None}})
    data_dir = app.extensions["colonnade"].settings.server.data_dir
    path = data_dir / ".secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    secret = path.read_text().strip()
    assert len(secret) >= 64
    session = await (await signup(app.test_client())).get_json()
    assert jwt.decode(session["token"], secret, algorithms=["HS256"])["id"] == session["id"]
    # Every later start (or another worker) reads the same secret, so tokens survive restarts.
    assert load_or_create_secret(data_dir) == secret
    assert load_or_create_secret(tmp_path / "elsewhere") != secret


async def test_token_lifetime_and_cookie_flags_follow_the_configuration(make_app):
    auth = {"jwt_expires_in": "1h30m", "cookie_secure": True, "cookie_samesite": "strict"}
    app = await make_app({"auth": auth})
    response = await signup(app.test_client())
    session = await response.get_json()
    claims = jwt.decode(session["token"], secret_of(app), algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 5400 and session["expires_at"] == claims["exp"]
    assert claims["typ"] == "session" and claims["jti"]
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=Strict" in cookie and "HttpOnly" in cookie
    assert re.search(r"Max-Age=(539\d|5400)\b", cookie)


async def test_the_configured_admin_is_created_at_start(make_app):
    auth = {"admin_email": "Root@Example.com", "admin_password": "bootstrap pw", "admin_name": "Root"}
    app = await make_app({"auth": auth})
    client = app.test_client(use_cookies=False)
    session = await (await signin(client, "root@example.com", "bootstrap pw")).get_json()
    assert (session["role"], session["name"]) == ("admin", "Root")
    assert (await User.get(id=session["id"])).is_primary_admin
    # Sign-ups that follow are ordinary users.
    assert (await (await signup(client)).get_json())["role"] == "user"


# -- smaller routes Open WebUI's front-end calls -------------------------------------------------


async def test_timezone_admin_details_and_admin_config(app):
    client = app.test_client(use_cookies=False)
    admin = await (await signup(client, "boss@example.com", name="Boss")).get_json()
    user = await (await signup(client)).get_json()
    headers = bearer(user["token"])

    response = await client.post(
        "/api/v1/auths/update/timezone", json={"timezone": "Europe/Paris"}, headers=headers
    )
    assert await response.get_json() == {"status": True}
    assert (await User.get(id=user["id"])).timezone == "Europe/Paris"
    assert (await client.post("/api/auth/update/timezone", json={}, headers=headers)).status_code == 422

    details = await client.get("/api/v1/auths/admin/details", headers=headers)
    assert await details.get_json() == {"name": "Boss", "email": "boss@example.com"}
    assert (await client.get("/api/v1/auths/admin/details")).status_code == 401

    assert (await client.get("/api/v1/auths/admin/config", headers=headers)).status_code == 403
    config = await (await client.get("/api/v1/auths/admin/config", headers=bearer(admin["token"]))).get_json()
    assert config["ENABLE_SIGNUP"] is True and config["DEFAULT_USER_ROLE"] == "user"
    assert config["JWT_EXPIRES_IN"] == "4w"


async def test_a_session_from_another_authentication_plugin(make_app):
    """``/me`` works for an actor that another ``actor_from_request`` implementation vouches for."""
    from colonnade import Actor, hookimpl

    class TrustedHeader:
        __name__ = "trusted_header"

        @hookimpl
        def actor_from_request(self, host, request):
            email = request.headers.get("X-Test-Email")
            if not email:
                return None

            async def lookup():
                user = await User.get_or_none(email=email)
                return Actor(id=user.id, role=user.role, email=user.email) if user else None

            return lookup()

    app = await make_app(plugins=[TrustedHeader()])
    client = app.test_client(use_cookies=False)
    email = new_email()
    session = await (await signup(client, email)).get_json()
    response = await client.get("/api/auth/me", headers={"X-Test-Email": email})
    assert response.status_code == 200
    body = await response.get_json()
    assert body["id"] == session["id"] and body["token"] is None
    assert (
        await client.get("/api/auth/me", headers={"X-Test-Email": "nobody@example.com"})
    ).status_code == 401


async def test_concurrent_first_signups_make_exactly_one_admin(app):
    import asyncio

    client = app.test_client(use_cookies=False)
    responses = await asyncio.gather(*(signup(client) for _ in range(5)))
    assert [response.status_code for response in responses] == [200] * 5
    roles = sorted([(await response.get_json())["role"] for response in responses])
    assert roles == ["admin", "user", "user", "user", "user"]
    assert await User.filter(primary_marker=1).count() == 1

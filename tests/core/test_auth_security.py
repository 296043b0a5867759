"""API keys, sign-in rate limits (in memory and in Redis), and secrets that never leave the server.

Routes are exercised at the spec path (``/api/auth/...``) and at Open WebUI's (``/api/v1/auths/...``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections import deque

import jwt
import pytest

from colonnade.auth.models import ApiKey, RevokedToken, User

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


# -- API keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_api_key_lifecycle(app, prefix):
    client = app.test_client(use_cookies=False)
    session = await (await signup(client)).get_json()
    headers = bearer(session["token"])
    assert (await client.get(f"{prefix}/api_key", headers=headers)).status_code == 404

    created = await client.post(f"{prefix}/api_key", json={"name": "laptop"}, headers=headers)
    assert created.status_code == 201
    body = await created.get_json()
    key = body["api_key"]
    assert re.fullmatch(r"sk-[0-9a-f]{32}", key)
    assert body["prefix"] == key[:7] and body["name"] == "laptop"

    listed = await (await client.get(f"{prefix}/api_key", headers=headers)).get_json()
    assert listed["id"] == body["id"] and "api_key" not in listed and key not in str(listed)
    stored = await ApiKey.get(id=body["id"])
    assert key not in (stored.key_hash, stored.prefix)

    for key_headers in (bearer(key), {"x-api-key": key}, {"Cookie": f"token={key}"}):
        response = await client.get(f"/api/users/{session['id']}", headers=key_headers)
        assert response.status_code == 200
    # A key acts as its owner, but is not a human session.
    refused = await client.get(f"{prefix}/", headers=bearer(key))
    assert refused.status_code == 403
    assert (await refused.get_json())["detail"] == "A human session is required."

    replaced = await (await client.post(f"{prefix}/api_key", headers=headers)).get_json()
    assert (await client.get(f"/api/users/{session['id']}", headers=bearer(key))).status_code == 401
    new_key = replaced["api_key"]
    assert (await client.get(f"/api/users/{session['id']}", headers=bearer(new_key))).status_code == 200

    deleted = await client.delete(f"{prefix}/api_key", headers=headers)
    assert deleted.status_code == 200 and await deleted.get_json() is True
    assert (await client.get(f"/api/users/{session['id']}", headers=bearer(new_key))).status_code == 401
    assert (await client.delete(f"{prefix}/api_key", headers=headers)).status_code == 404
    assert (
        await client.get(f"/api/users/{session['id']}", headers=bearer("sk-" + "0" * 32))
    ).status_code == 401


async def test_api_keys_can_be_switched_off(make_app):
    app = await make_app({"auth": {"enable_api_keys": False}})
    client = app.test_client(use_cookies=False)
    session = await (await signup(client)).get_json()
    headers = bearer(session["token"])
    response = await client.post("/api/auth/api_key", headers=headers)
    assert response.status_code == 403
    assert (await response.get_json())["detail"] == "API key creation is not allowed in the environment."
    # A key made while keys were allowed stops working.
    service = app.extensions["colonnade"].state("auth").service
    _, key = await service.create_api_key(await User.get(id=session["id"]))
    assert (await client.get(f"/api/users/{session['id']}", headers=bearer(key))).status_code == 401
    config = await (await client.get("/api/config", headers=headers)).get_json()
    assert config["features"]["enable_api_keys"] is False


# -- sign-in rate limits, in process memory and in Redis -----------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/13"


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["memory", "redis"])
def shared_state(request) -> dict:
    """Extra configuration putting revocations and attempt counters in Redis, or nothing."""
    if request.param == "memory":
        return {}
    if not redis_available():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return {"database": {"redis_url": REDIS_URL}}


def from_address() -> dict:
    """A client address of its own, so tests sharing a Redis never count each other's attempts."""
    address = "10." + ".".join(str(octet) for octet in uuid.uuid4().bytes[:3])
    return {"scope_base": {"client": (address, 40000)}}


async def limited_app(make_app, shared_state, account: int, address: int):
    limits = {"signin_attempts_per_account": account, "signin_attempts_per_address": address}
    return await make_app({**shared_state, "auth": limits})


async def test_signin_failures_are_limited_per_account(make_app, shared_state):
    app = await limited_app(make_app, shared_state, account=3, address=100)
    client = app.test_client(use_cookies=False)
    email, other = new_email(), new_email()
    await signup(client, email)
    await signup(client, other)
    here = from_address()
    for _ in range(3):
        assert (await signin(client, email, "wrong", **here)).status_code == 401
    for prefix in PREFIXES:
        for address in (here, from_address()):  # the account is locked from everywhere
            response = await signin(client, email, prefix=prefix, **address)
            assert response.status_code == 429
            assert await response.get_json() == {"detail": "API rate limit exceeded"}
            assert 1 <= int(response.headers["Retry-After"]) <= 180
    assert (await signin(client, other, **here)).status_code == 200
    if shared_state:
        redis = app.extensions["colonnade"].redis
        assert await redis.zcard(f"colonnade:ratelimit:account:{email}") == 3
        assert 0 < await redis.ttl(f"colonnade:ratelimit:account:{email}") <= 180


async def test_signin_failures_are_limited_per_address(make_app, shared_state):
    app = await limited_app(make_app, shared_state, account=100, address=3)
    client = app.test_client(use_cookies=False)
    email = new_email()
    await signup(client, email)
    here = from_address()
    for _ in range(3):
        assert (await signin(client, new_email(), "guess", **here)).status_code == 401
    response = await signin(client, email, **here)
    assert response.status_code == 429
    assert (await response.get_json())["detail"] == "API rate limit exceeded"
    assert (await signin(client, email, **from_address())).status_code == 200


async def test_a_successful_signin_clears_the_account_count(make_app, shared_state):
    app = await limited_app(make_app, shared_state, account=3, address=100)
    client = app.test_client(use_cookies=False)
    email = new_email()
    await signup(client, email)
    for _ in range(2):
        for _ in range(2):
            assert (await signin(client, email, "wrong", **from_address())).status_code == 401
        assert (await signin(client, email, **from_address())).status_code == 200


async def test_signout_revocation_is_shared(make_app, shared_state):
    app = await make_app(shared_state)
    client = app.test_client(use_cookies=False)
    session = await (await signup(client)).get_json()
    await client.post("/api/auth/signout", headers=bearer(session["token"]))
    assert (await client.get("/api/auth/me", headers=bearer(session["token"]))).status_code == 401
    if shared_state:
        claims = jwt.decode(session["token"], options={"verify_signature": False})
        redis = app.extensions["colonnade"].redis
        ttl = await redis.ttl(f"colonnade:auth:revoked:{claims['jti']}")
        assert 0 < ttl <= claims["exp"] - int(time.time()) + 2  # whole seconds, read a moment later
        assert await RevokedToken.all().count() == 0


# -- what never leaves the server ----------------------------------------------------------------


async def test_no_response_carries_a_secret(app):
    client = app.test_client(use_cookies=False)
    session = await (await signup(client, name="Admin")).get_json()
    admin = bearer(session["token"])
    user = await (await signup(client)).get_json()
    key = (await (await client.post("/api/auth/api_key", headers=admin)).get_json())["api_key"]
    group = await client.post("/api/groups", json={"name": "g", "user_ids": [user["id"]]}, headers=admin)
    responses = [
        await signin(client, session["email"]),
        await client.get("/api/auth/me", headers=admin),
        await client.get("/api/auth/api_key", headers=admin),
        await client.get("/api/users", headers=bearer(key)),
        await client.get(f"/api/users/{user['id']}", headers=admin),
        await client.post(f"/api/users/{user['id']}", json={"name": "N", "password": "pw2"}, headers=admin),
        await client.post(
            "/api/v1/auths/add", json={"name": "a", "email": new_email(), "password": "p"}, headers=admin
        ),
        await client.post("/api/auth/update/profile", json={"bio": "b"}, headers=admin),
        group,
        await client.get("/api/groups", headers=admin),
        await client.get("/api/config", headers=admin),
        await client.get("/api/plugins", headers=admin),
    ]
    secrets = [secret_of(app), key]
    for stored in await User.all():
        secrets += [stored.password_hash, stored.session_stamp]
    secrets += [api_key.key_hash for api_key in await ApiKey.all()]
    for response in responses:
        assert response.status_code < 300, await response.get_data(as_text=True)
        text = await response.get_data(as_text=True) + str(response.headers)
        assert "argon2" not in text and "password_hash" not in text and "session_stamp" not in text
        for secret in filter(None, secrets):
            assert secret not in text


async def test_password_hashing_runs_off_the_event_loop(app):
    import threading

    service = app.extensions["colonnade"].state("auth").service
    real, threads = service.passwords._hasher, []

    class Recording:
        """Delegates to the real hasher, noting the thread each call runs in."""

        def __getattr__(self, name):
            method = getattr(real, name)

            def call(*args, **kwargs):
                threads.append((name, threading.get_ident()))
                return method(*args, **kwargs)

            return call

    service.passwords._made = Recording()  # what the _hasher property hands out
    client = app.test_client(use_cookies=False)
    email = new_email()
    await signup(client, email)
    assert (await signin(client, email)).status_code == 200
    assert (await signin(client, email, "wrong")).status_code == 401
    # ``check_needs_rehash`` only parses the stored hash's parameters; hash and verify do the work.
    hashing = [ident for name, ident in threads if name in ("hash", "verify")]
    assert len(hashing) >= 3 and threading.get_ident() not in hashing


async def test_api_key_bodies_are_validated(app):
    client = app.test_client(use_cookies=False)
    headers = bearer((await (await signup(client)).get_json())["token"])
    for body, status in (({"name": "x" * 300}, 422), ([1], 422), ({"name": 5}, 422)):
        response = await client.post("/api/auth/api_key", json=body, headers=headers)
        assert response.status_code == status, body
        assert (await response.get_json())["errors"]
    malformed = await client.post(
        "/api/auth/api_key", data=b"{", headers={**headers, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert not await ApiKey.exists()


async def test_attempt_counters_in_memory_forget_old_keys():
    from colonnade.auth.stores import AttemptCounter

    counter = AttemptCounter(limit=3, window=60)
    for number in range(10_000):
        counter._memory[f"old{number}@example.com"] = deque([time.time() - 120])
    await counter.record_failure("new@example.com")
    assert list(counter._memory) == ["new@example.com"]
    assert await counter.retry_after("new@example.com") == 0


async def test_an_unreachable_redis_is_503_not_500(make_app):
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = await make_app({"database": {"redis_url": f"redis://127.0.0.1:{port}/0"}})
    client = app.test_client(use_cookies=False)
    session = await (await signup(client)).get_json()
    response = await signin(client, session["email"])
    assert response.status_code == 503
    assert "Redis" in (await response.get_json())["detail"]
    assert (await client.get("/api/auth/me", headers=bearer(session["token"]))).status_code == 503

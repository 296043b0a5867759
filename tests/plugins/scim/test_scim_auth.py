"""Only the configured SCIM token opens Users and Groups; users' own credentials do not."""

from __future__ import annotations

import pytest

from scim_helpers import TOKEN

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authorization header required"),
        ("Basic " + TOKEN, "Invalid authorization: expected Bearer <token>"),
        ("Bearer", "Invalid authorization: expected Bearer <token>"),
        ("Bearer " + TOKEN + "x", "Invalid SCIM token"),
        ("Bearer " + TOKEN[:-1], "Invalid SCIM token"),
    ],
)
async def test_bad_credentials_are_a_scim_401(scim, header, detail):
    headers = {"Authorization": header} if header else {}
    for method, path in (("GET", "/Users"), ("POST", "/Users"), ("GET", "/Groups/x"), ("DELETE", "/Users/x")):
        answer = await scim.call(method, path, headers=headers)
        assert answer.status == 401, (method, path)
        assert answer.body["detail"] == detail
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


async def test_user_tokens_and_api_keys_are_not_scim_tokens(scim, auth_headers):
    admin = await auth_headers(scim.app, role="admin")
    assert (await scim.call("GET", "/Users", headers=admin)).status == 401
    service = scim.app.extensions["colonnade"].state("auth").service
    from colonnade.auth.models import User

    user = await User.get(role="admin")
    _, key = await service.create_api_key(user)
    for headers in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}):
        assert (await scim.call("GET", "/Users", headers=headers)).status == 401


async def test_the_scim_token_is_not_a_user_token(scim):
    response = await scim.client.get("/api/users", headers=scim.headers)
    assert response.status_code == 401

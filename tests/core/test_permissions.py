"""``host.check_permission`` and ``@require``: any ``False`` denies, any ``True`` allows, else the role."""

from __future__ import annotations

import pytest
from quart import Blueprint

from colonnade import Action, Actor, StartupError, hookimpl, require

pytestmark = pytest.mark.asyncio

ADMIN = Actor(id="a", role="admin")
USER = Actor(id="u", role="user")
PENDING = Actor(id="p", role="pending")


class Actions:
    """Declares the actions these tests check, and a route guarded by one of them."""

    __name__ = "perm"

    @hookimpl
    def register_actions(self, host):
        return [
            Action("perm.read", "Read things"),
            Action("perm.configure", "Configure things", default_role="admin"),
            Action("perm.anyone", "Anyone signed in", default_role="pending"),
        ]

    @hookimpl
    def register_blueprints(self, host):
        bp = Blueprint("perm", __name__, url_prefix="/api/perm")

        @bp.get("/configure")
        @require("perm.configure")
        async def configure(actor):
            return {"actor": actor.id}

        return [bp]


class Policy:
    """A test plugin with a fixed verdict per (role, action); ``None`` abstains."""

    def __init__(self, name: str, verdicts: dict[tuple[str, str], bool | None], asynchronous: bool = False):
        self.__name__ = name
        self.verdicts = verdicts
        self.asynchronous = asynchronous
        self.calls: list[tuple[str, str, object]] = []

    @hookimpl
    def permission_allowed(self, actor, action, resource):
        self.calls.append((actor.id, action, resource))
        verdict = self.verdicts.get((actor.role, action))
        if not self.asynchronous:
            return verdict

        async def decide():
            return verdict

        return decide()


async def check(app, actor, action, resource=None):
    return await app.extensions["colonnade"].check_permission(actor, action, resource)


async def test_default_roles_decide_when_no_plugin_does(make_app):
    app = await make_app(plugins=[Actions()])
    expected = {
        "perm.read": {ADMIN: True, USER: True, PENDING: False},
        "perm.configure": {ADMIN: True, USER: False, PENDING: False},
        "perm.anyone": {ADMIN: True, USER: True, PENDING: True},
    }
    for action, by_actor in expected.items():
        for actor, allowed in by_actor.items():
            assert await check(app, actor, action) is allowed, (actor.role, action)
        assert await check(app, None, action) is False


async def test_a_single_deny_wins_over_every_allow(make_app):
    deny = Policy("deny", {("admin", "perm.read"): False, ("user", "perm.read"): False})
    allow = Policy("allow", {("admin", "perm.read"): True, ("user", "perm.read"): True})
    app = await make_app(plugins=[Actions(), allow, deny])
    # The auth plugin allows admins everything, and ``allow`` says yes too: ``deny`` still wins.
    assert await check(app, ADMIN, "perm.read") is False
    assert await check(app, USER, "perm.read") is False
    assert await check(app, ADMIN, "perm.configure") is True  # other actions are untouched
    assert {call[1] for call in deny.calls} == {"perm.read", "perm.configure"}


async def test_an_allow_opens_an_action_beyond_its_default_role(make_app):
    policy = Policy(
        "grant", {("user", "perm.configure"): True, ("pending", "perm.read"): True}, asynchronous=True
    )
    app = await make_app(plugins=[Actions(), policy])
    assert await check(app, USER, "perm.configure") is True
    assert await check(app, PENDING, "perm.read") is True
    assert await check(app, PENDING, "perm.configure") is False


async def test_the_resource_reaches_every_implementation(make_app):
    policy = Policy("seer", {})
    app = await make_app(plugins=[Actions(), policy])
    resource = {"chat": "c1"}
    await check(app, USER, "perm.read", resource)
    assert policy.calls == [("u", "perm.read", resource)]


async def test_checking_an_unregistered_action_is_an_error(make_app):
    app = await make_app(plugins=[Actions()])
    with pytest.raises(StartupError, match="perm.raed"):
        await check(app, ADMIN, "perm.raed")


async def test_require_answers_401_403_and_honours_plugins(make_app, auth_headers):
    deny_admin_users = Policy("lockdown", {("admin", "users.manage"): False})
    grant_user = Policy("grant", {("user", "perm.configure"): True})
    app = await make_app(plugins=[Actions(), deny_admin_users, grant_user])
    client = app.test_client(use_cookies=False)
    admin = await auth_headers(app, role="admin")
    user = await auth_headers(app, role="user")
    pending = await auth_headers(app, role="pending")

    assert (await client.get("/api/perm/configure")).status_code == 401
    assert (await client.get("/api/perm/configure", headers=pending)).status_code == 403
    assert (await client.get("/api/perm/configure", headers=user)).status_code == 200
    assert (await client.get("/api/perm/configure", headers=admin)).status_code == 200
    # The core's own routes go through the same check: a plugin can take users.manage from admins.
    response = await client.get("/api/users", headers=admin)
    assert response.status_code == 403
    assert "permission" in (await response.get_json())["detail"]

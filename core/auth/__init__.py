"""Authentication and accounts: users, groups, sessions (JWT), API keys, permissions.

Essential core plugin (it cannot be blocked). Implements: register_db_models, register_actions,
register_events, register_blueprints, startup, shutdown, actor_from_request, permission_allowed.
Config: the core ``[auth]`` section (see ``colonnade.settings.AuthSettings``).
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    return {"auth": ["colonnade.auth.models"]}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [
        Action("users.manage", "List, create, change and delete any account", default_role="admin"),
        Action("users.read_self", "Read and update one's own account", default_role="pending"),
        Action("groups.manage", "Create, change and delete groups", default_role="admin"),
        Action("auth.api_keys", "Create and use API keys"),
    ]


@hookimpl
def register_events() -> list[type]:
    from colonnade.auth.events import ALL_EVENTS

    return ALL_EVENTS


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.auth import groups, profile, users, views

    return [
        (views.bp, {"url_prefix": "/api/auth", "name": "auth"}),
        (views.bp, {"url_prefix": "/api/v1/auths", "name": "auth_v1"}),
        (profile.bp, {"url_prefix": "/api/users", "name": "profile"}),
        (profile.bp, {"url_prefix": "/api/v1/users", "name": "profile_v1"}),
        (users.bp, {"url_prefix": "/api/users", "name": "users"}),
        (users.bp, {"url_prefix": "/api/v1/users", "name": "users_v1"}),
        (groups.bp, {"url_prefix": "/api/groups", "name": "groups"}),
        (groups.bp, {"url_prefix": "/api/v1/groups", "name": "groups_v1"}),
    ]


@hookimpl
async def startup(host: Any) -> None:
    from colonnade.auth.bootstrap import create_configured_admin
    from colonnade.auth.service import AuthService

    service = host.state("auth").service = AuthService(host)
    await service.start()
    await create_configured_admin(host)


@hookimpl
async def shutdown(host: Any) -> None:
    service = getattr(host.state("auth"), "service", None)
    if service is not None:
        await service.close()


@hookimpl
def actor_from_request(host: Any, request: Any) -> Any:
    from colonnade.auth.service import credential_from

    credential = credential_from(request)
    if credential is None:
        return None
    return host.state("auth").service.actor_for(credential)


@hookimpl
def permission_allowed(actor: Any, action: str) -> bool | None:
    # Admins may do everything; pending accounts nothing beyond what an action opens to them.
    return True if actor.is_admin else None

"""Request-time helpers: who is calling (``current_actor``) and the ``@require`` view decorator."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from colonnade.actors import Actor
from colonnade.errors import ApiError

_ACTOR_KEY = "_colonnade_actor"


def get_host() -> Any:
    from quart import current_app

    return current_app.extensions["colonnade"]


async def current_actor() -> Actor | None:
    """The authenticated caller of the current request, or ``None``; resolved once per request."""
    from quart import g, request

    from colonnade.calling import first_non_none

    if not hasattr(g, _ACTOR_KEY):
        host = get_host()
        actor = await first_non_none(host.pm.hook.actor_from_request(host=host, request=request))
        setattr(g, _ACTOR_KEY, actor)
    return getattr(g, _ACTOR_KEY)


INVALID_CREDENTIAL = "Your session has expired or the token is invalid. Please sign in again."
FORBIDDEN = (
    "You do not have permission to access this resource. Please contact your administrator for assistance."
)


def _carries_credential() -> bool:
    from quart import request

    return bool(
        request.headers.get("Authorization")
        or request.headers.get("x-api-key")
        or request.cookies.get("token")
    )


async def require_actor() -> Actor:
    """The caller, or a 401 when the request carries no valid credential."""
    actor = await current_actor()
    if actor is None:
        detail = INVALID_CREDENTIAL if _carries_credential() else "Not authenticated"
        raise ApiError(401, detail, headers={"WWW-Authenticate": "Bearer"})
    return actor


def require(action: str | None = None) -> Callable:
    """Decorate a view: 401 without a valid credential, 403 unless ``action`` is allowed.

    The view receives the caller as its ``actor`` keyword argument. ``@require()`` with no action only
    requires a signed-in caller of any role (``pending`` included).
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = await require_actor()
            if action is not None and not await get_host().check_permission(actor, action):
                raise ApiError(403, FORBIDDEN)
            return await view(*args, actor=actor, **kwargs)

        wrapper.colonnade_action = action  # type: ignore[attr-defined]
        return wrapper

    return decorator

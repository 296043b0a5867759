"""The SCIM client's credential: ``Authorization: Bearer <[plugins.scim] token>``.

Compared in constant time (``hmac.compare_digest``). This is the only credential SCIM routes accept:
a user's session token or API key is just a wrong SCIM token here. Plugins serving extra resource
types (``scim_resource_types``) decorate their views with :func:`check_token` too.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from colonnade.plugins.scim.errors import ScimError

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="SCIM"'}


def verify(header: str | None, token: str) -> None:
    """Raise a SCIM 401 unless ``header`` is ``Bearer <token>``."""
    if not header:
        raise ScimError(401, "Authorization header required", headers=CHALLENGE)
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise ScimError(401, "Invalid authorization: expected Bearer <token>", headers=CHALLENGE)
    if not hmac.compare_digest(credential.strip().encode(), token.encode()):
        raise ScimError(401, "Invalid SCIM token", headers=CHALLENGE)


def check_token(view: Callable) -> Callable:
    """Decorate a view so that it runs only for the SCIM client."""

    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        from quart import current_app, request

        token = current_app.extensions["colonnade"].plugin_config("scim").token
        if token is None:  # not reachable through the built-in routes: they exist only with a token
            raise ScimError(404, "SCIM is not enabled")
        verify(request.headers.get("Authorization"), token.get_secret_value())
        return await view(*args, **kwargs)

    return wrapper

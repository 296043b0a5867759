"""System endpoints: ``/health``, ``/health/db``, ``/ready``, ``/api/version`` and ``/api/config``.

Essential core plugin. Implements: register_blueprints.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, current_app
from quart_schema import hide

from colonnade.hookspecs import hookimpl
from colonnade.permissions import current_actor

bp = Blueprint("system", __name__)
log = logging.getLogger("colonnade")

#: Open WebUI's feature flags, switched on when the plugin that provides the feature is loaded.
FEATURE_FLAGS = {
    "enable_image_generation": "images",
    "enable_memories": "memory",
    "enable_functions": "functions",
    "enable_web_search": "web_search",
    "enable_code_execution": "code_execution",
    "enable_folders": "chats",
    "enable_message_rating": "evaluations",
    "enable_title_generation": "tasks",
    "enable_tags_generation": "tasks",
    "enable_autocomplete_generation": "tasks",
    "enable_follow_up_generation": "tasks",
}


def _host() -> Any:
    return current_app.extensions["colonnade"]


@bp.get("/health")
@hide
async def health() -> dict[str, bool]:
    """Liveness: answers without touching the database."""
    return {"status": True}


@bp.get("/health/db")
@hide
async def health_db():
    from colonnade.db import connection_name
    from colonnade.errors import json_error

    try:
        await _host().db.db(connection_name(_host().settings)).execute_query("SELECT 1")
    except Exception as error:  # noqa: BLE001 - whatever the failure, the answer is "not ready"
        # The reason goes to the log only: the endpoint is public and must not describe the database.
        log.warning("database health check failed: %s: %s", type(error).__name__, error)
        return json_error(503, "Database not ready")
    return {"status": True}


@bp.get("/ready")
@hide
async def ready():
    return await health_db()


@bp.get("/api/version")
async def version() -> dict[str, Any]:
    from colonnade import __version__

    return {"version": __version__, "deployment_id": _host().settings.host.deployment_id}


@bp.get("/api/config")
async def config() -> dict[str, Any]:
    """The public configuration; richer for a signed-in user (Open WebUI's shape)."""
    from colonnade import __version__
    from colonnade.auth.models import User

    host = _host()
    auth = host.settings.auth
    actor = await current_actor()
    loaded = set(host.pm.infos)
    body: dict[str, Any] = {
        "status": True,
        "name": host.settings.host.name,
        "version": __version__,
        "default_locale": "",
        "oauth": {"providers": {}},
        "features": {
            "auth": True,
            "auth_trusted_header": False,
            "enable_ldap": False,
            "enable_signup": auth.enable_signup,
            "enable_login_form": True,
            "enable_signup_password_confirmation": False,
            "enable_websocket": "realtime" in loaded,
        },
    }
    if actor is None:
        if not await User.exists():
            body["onboarding"] = True
        return body
    if actor.role == "pending":
        body["ui"] = {"pending_user_overlay_title": "", "pending_user_overlay_content": ""}
        return body
    features = body["features"]
    features["enable_api_keys"] = auth.enable_api_keys
    features["enable_password_change_form"] = True
    for flag, plugin in FEATURE_FLAGS.items():
        features[flag] = plugin in loaded
    body["plugins"] = sorted(loaded)
    body["default_models"] = ""
    body["default_prompt_suggestions"] = []
    body["file"] = {"max_size": None, "max_count": None}
    return body


@hookimpl
def register_blueprints(host: Any) -> list[Blueprint]:
    return [bp]

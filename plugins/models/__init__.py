"""Workspace models: a base model with a system prompt, parameters, meta and access control.

Owners, admins and the users and groups a model is shared with (read or write) see it; everyone else
gets a 404. Routes: ``/api/models/...`` (create, read, update, delete, duplicate, search, validate) and
Open WebUI's ``/api/v1/models/...`` (list, create, model?id=, update, toggle, access, delete). The merged
``GET /api/models`` list belongs to the completions plugin, which will also serve workspace models as an
LLM provider (see ``base_models.py`` for the seam between the two).

Implements: register_config_models, register_db_models, register_actions, register_events,
register_blueprints, permission_allowed, startup.
Config: ``[plugins.models]`` (see ``config.ModelsConfig``). Requires: nothing beyond the core.
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl

#: Actions whose answer comes from Open WebUI's permission tree (defaults plus the caller's groups).
TREE_ACTIONS = {
    "models.create": ("workspace", "models", "users_can_create"),
    "models.share_public": ("sharing", "public_models", "users_can_share_publicly"),
}


@hookimpl
def register_config_models() -> dict[str, type]:
    from colonnade.plugins.models.config import ModelsConfig

    return {"models": ModelsConfig}


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    return {"models": ["colonnade.plugins.models.models"]}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [
        Action("models.read", "Read, search and use workspace models shared with you"),
        Action(
            "models.create", "Create workspace models (Open WebUI's workspace.models)", default_role="admin"
        ),
        Action(
            "models.share_public",
            "Make a workspace model public (sharing.public_models)",
            default_role="admin",
        ),
        Action("models.manage", "List and delete every workspace model", default_role="admin"),
    ]


@hookimpl
def register_events() -> list[type]:
    from colonnade.plugins.models.events import ALL_EVENTS

    return ALL_EVENTS


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.plugins.models import openwebui, views

    return [
        (views.bp, {"url_prefix": "/api/models", "name": "models"}),
        (openwebui.bp, {"url_prefix": "/api/v1/models", "name": "models_v1"}),
    ]


@hookimpl
def startup(host: Any) -> None:
    from colonnade.plugins.models.service import ModelService

    host.state("models").service = ModelService(host)


@hookimpl
def permission_allowed(host: Any, actor: Any, action: str) -> Any:
    """Grant ``models.create``/``models.share_public`` from the permission tree; abstain otherwise."""
    if action not in TREE_ACTIONS or actor.role != "user":
        return None
    section, key, config_key = TREE_ACTIONS[action]
    if getattr(host.plugin_config("models"), config_key):
        return True

    async def granted_by_a_group() -> bool | None:
        from colonnade.auth.models import Group

        for permissions in await Group.filter(members__id=actor.id).values_list("permissions", flat=True):
            if ((permissions or {}).get(section) or {}).get(key) is True:
                return True
        return None

    return granted_by_a_group()

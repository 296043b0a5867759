"""Chats: conversations with their Open WebUI history tree, and messages queryable on their own.

Serves ``/api/chats`` (the spec) and ``/api/v1/chats`` (Open WebUI) from the same views. A chat's
messages live one per row in ``chats_message``; the ``history`` tree clients see is rebuilt from them,
so appending to a long chat writes one row. Details: ``docs/api/chats.md``.

Implements: register_config_models, register_db_models, register_actions, register_events,
register_blueprints. Config: ``[plugins.chats]`` (``admin_chat_access``, ``page_size``).
Requires: the core ``auth`` plugin (chats belong to ``auth.User``), which is always loaded.
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl


@hookimpl
def register_config_models() -> dict[str, Any]:
    from colonnade.plugins.chats.schemas import ChatsConfig

    return {"chats": ChatsConfig}


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    return {"chats": ["colonnade.plugins.chats.models"]}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [
        Action("chats.use", "Create, read, change and archive one's own chats"),
        Action("chats.delete", "Delete one's own chats (Open WebUI's chat.delete permission)"),
        Action("chats.read_all", "List any user's chats (with admin_chat_access)", default_role="admin"),
    ]


@hookimpl
def register_events() -> list[type]:
    from colonnade.plugins.chats.events import ALL_EVENTS

    return ALL_EVENTS


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.plugins.chats import lists, tags, views

    # Werkzeug matches static segments (/pinned, /archived, /tags) before /<chat_id> whatever the
    # registration order; each blueprint is mounted at both prefixes.
    return [
        (lists.bp, {"url_prefix": "/api/chats", "name": "chats_lists"}),
        (lists.bp, {"url_prefix": "/api/v1/chats", "name": "chats_lists_v1"}),
        (tags.bp, {"url_prefix": "/api/chats", "name": "chats_tags"}),
        (tags.bp, {"url_prefix": "/api/v1/chats", "name": "chats_tags_v1"}),
        (views.bp, {"url_prefix": "/api/chats", "name": "chats"}),
        (views.bp, {"url_prefix": "/api/v1/chats", "name": "chats_v1"}),
    ]

"""Per-user memories: short facts kept for the model, searched by meaning and recalled into completions.

Serves ``/api/memory`` (the spec) and ``/api/v1/memories`` (Open WebUI) from the same views
(``views.py``). Memories are rows of the plugin's own table (``models.py``); each is embedded on
write, and again when its text changes, into the owner's vector collection ``user-memory-<user id>``
through the ``rag`` plugin's configured store and embedding function (``store.py``). For a user who
has memory on, the memories nearest to their latest messages are appended to the system message of
their completions (``context.py``). Details: ``docs/api/memory.md``.

Implements: register_config_models, register_db_models, register_actions, register_blueprints,
on_event (a deleted user's collection is dropped; their rows go by cascade), and (optional: memory
loads without completions) completion_inlet.
Config: ``[plugins.memory]`` (:class:`colonnade.plugins.memory.config.MemoryConfig`).
Requires: ``rag`` (the vector store and the embedding function); the core ``auth`` plugin.
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl

requires = ("rag",)


@hookimpl
def register_config_models() -> dict[str, Any]:
    from colonnade.plugins.memory.config import MemoryConfig

    return {"memory": MemoryConfig}


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    return {"memory": ["colonnade.plugins.memory.models"]}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [
        Action("memory.use", "Keep, search and change one's own memories (Open WebUI features.memories)"),
        Action("memory.manage", "Embed every user's memories again", default_role="admin"),
    ]


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.plugins.memory import views

    return [(views.bp, {"url_prefix": prefix, "name": name}) for name, prefix in views.PREFIXES.items()]


@hookimpl
async def on_event(host: Any, event: Any) -> None:
    if event.name != "auth.user_deleted":
        return
    service = getattr(host.state("rag"), "service", None)
    if service is not None:
        from colonnade.plugins.memory.store import forget_user

        await forget_user(service, event.user_id)


@hookimpl(optionalhook=True)
def completion_inlet(host: Any, ctx: Any) -> Any:
    from colonnade.plugins.memory.context import add_memories

    return add_memories(host, ctx)

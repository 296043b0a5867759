"""Open WebUI's admin retrieval settings (``/api/v1/retrieval``): read and change them.

- ``GET /embedding`` and ``POST /embedding/update``: the embedding function (``RAG_EMBEDDING_ENGINE``:
  ``""`` is the local model, as in Open WebUI), its model and batch size;
- ``GET /config`` and ``POST /config/update``: the retrieval and chunking settings (``TOP_K``,
  ``RAG_TEMPLATE``, ``CHUNK_SIZE``...).

An update is partial: the keys this serves, with a value other than ``null``, change; other keys
(settings of features not served here) are ignored. The result must be a valid configuration or
nothing changes (400). Changes are stored and reach every worker (:mod:`~colonnade.plugins.rag.overrides`);
the configuration file keeps the defaults. Admins only (``rag.manage``); no secret is ever answered.
Routes are added to :data:`~colonnade.plugins.rag.views.bp_v1`.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import current_app, request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.rag import overrides
from colonnade.plugins.rag.views import bp_v1, service

log = logging.getLogger("colonnade.rag")


async def json_object() -> dict[str, Any]:
    body = await request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Send the settings as a JSON object")
    return body


def embedding_json() -> dict[str, Any]:
    rag = service()
    engine = rag.embedder.name
    return {
        "status": True,
        "RAG_EMBEDDING_ENGINE": "" if engine == "local" else engine,
        "RAG_EMBEDDING_MODEL": rag.embedder.model,
        "RAG_EMBEDDING_BATCH_SIZE": rag.config.embedding_batch_size,
        "RAG_EMBEDDING_CONCURRENT_REQUESTS": rag.config.embedding_concurrency,
    }


def config_json() -> dict[str, Any]:
    config = service().config
    return {
        "status": True,
        **{name: getattr(config, field) for name, field in overrides.CONFIG_FIELDS.items()},
        "TEXT_SPLITTER": "character",
    }


@bp_v1.get("/embedding")
@require("rag.manage")
async def embedding_config(actor: Actor) -> Any:
    """The embedding in use, in Open WebUI's field names."""
    return embedding_json()


@bp_v1.post("/embedding/update")
@require("rag.manage")
async def update_embedding_config(actor: Actor) -> Any:
    """Change the embedding function, model or batch size; collections filled by another embedding
    then refuse it (409) until they are re-indexed."""
    changes = overrides.changes_from(await json_object(), overrides.EMBEDDING_FIELDS)
    await overrides.update(current_app.extensions["colonnade"], changes, actor.id)
    return embedding_json()


@bp_v1.get("/config")
@require("rag.manage")
async def retrieval_config(actor: Actor) -> Any:
    """The retrieval and chunking settings in use, in Open WebUI's field names."""
    return config_json()


@bp_v1.post("/config/update")
@require("rag.manage")
async def update_retrieval_config(actor: Actor) -> Any:
    """Change some of the retrieval and chunking settings; answers them all."""
    changes = overrides.changes_from(await json_object(), overrides.CONFIG_FIELDS)
    await overrides.update(current_app.extensions["colonnade"], changes, actor.id)
    return config_json()

"""Admin overrides of ``[plugins.rag]`` (Open WebUI's ``/api/v1/retrieval/config/update`` and
``/embedding/update``), kept in the ``rag_setting`` table so that every worker, and every restart,
uses them.

The configuration file gives the defaults. The overrides (``RagConfig`` field names and values) are
layered over it and the result validated as a whole, as a new :class:`RagConfig`: a value the file
would refuse is refused here too (400), and nothing is stored or applied. What is applied is the
service's ``config`` and, when the embedding changed, its ``embedder``; everything that retrieves,
ingests or fills a template reads them there.

**Every worker.** The row has a ``version`` that goes up on every change. Before a request, at most
once every :data:`RECHECK_SECONDS`, a worker reads that version (one lookup by key); when it moved, it
reads the overrides and applies them. A change made on one worker is thus used by the others within
a second, and by a restarted one from its start.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from tortoise.transactions import in_transaction

from colonnade.errors import ApiError
from colonnade.rawsql import Statement, fetch_one

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.plugins.rag.config import RagConfig

log = logging.getLogger("colonnade.rag")

#: The one row's id.
ROW_ID = "retrieval"
#: Seconds between two looks at the row's version, per worker.
RECHECK_SECONDS = 1.0
#: Open WebUI's names of the retrieval settings that can be changed, and their ``RagConfig`` fields.
CONFIG_FIELDS = {
    "RAG_TEMPLATE": "template",
    "TOP_K": "top_k",
    "RELEVANCE_THRESHOLD": "relevance_threshold",
    "ENABLE_RAG_HYBRID_SEARCH": "hybrid_search",
    "HYBRID_BM25_WEIGHT": "hybrid_bm25_weight",
    "CHUNK_SIZE": "chunk_size",
    "CHUNK_OVERLAP": "chunk_overlap",
    "ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER": "markdown_header_splitter",
}
#: The same for the embedding.
EMBEDDING_FIELDS = {
    "RAG_EMBEDDING_ENGINE": "embedding_function",
    "RAG_EMBEDDING_MODEL": "embedding_model",
    "RAG_EMBEDDING_BATCH_SIZE": "embedding_batch_size",
}
#: Open WebUI's engine names that differ from the embedding functions' ("": SentenceTransformers).
ENGINE_ALIASES = {"": "local"}
#: The version of the row, read before requests.
VERSION = Statement("SELECT version FROM rag_setting WHERE id = ?")


def changes_from(body: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The ``RagConfig`` fields a request sets: Open WebUI's names this serves, ``null`` meaning
    "unchanged" (as in Open WebUI's forms); any other key is ignored."""
    changes = {field: body[name] for name, field in names.items() if body.get(name) is not None}
    engine = changes.get("embedding_function")
    if isinstance(engine, str):
        changes["embedding_function"] = ENGINE_ALIASES.get(engine.strip().lower(), engine.strip())
    model = changes.get("embedding_model")
    if isinstance(model, str) and not model.strip():
        raise ApiError(400, "RAG_EMBEDDING_MODEL: name a model")
    return changes


def layered(base: RagConfig, overrides: dict[str, Any]) -> RagConfig:
    """``base`` with ``overrides``, validated as a whole (a new ``RagConfig``, as the file's values are).

    :raises ApiError: 400 naming the first value refused, in Open WebUI's name where it has one.
    """
    merged = {**base.model_dump(mode="json"), **overrides}
    try:
        # As JSON, strictly: the values came as JSON, and "5" is no number, nor 1 a boolean.
        return type(base).model_validate_json(json.dumps(merged), strict=True)
    except (ValidationError, TypeError, ValueError) as error:
        if not isinstance(error, ValidationError):
            raise ApiError(400, f"Invalid value: {error}") from None
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        names = {value: key for key, value in {**CONFIG_FIELDS, **EMBEDDING_FIELDS}.items()}
        where = names.get(field, field)
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ApiError(400, f"{where}: {message}" if where else message) from None


def apply(host: Host, config: RagConfig) -> None:
    """Make ``config`` the one the service (and its ingestor) use, with a new embedder when the
    embedding changed."""
    from colonnade.plugins.rag.embedding import Embedder

    state = host.state("rag")
    rag = state.service
    embedding = ("embedding_function", "embedding_model", "embedding_batch_size", "embedding_concurrency")
    if any(getattr(config, key) != getattr(rag.config, key) for key in embedding):
        rag.embedder = Embedder(
            rag.functions.get(config.embedding_function),
            config.embedding_model,
            config.embedding_batch_size,
            config.embedding_concurrency,
        )
    rag.config = config
    ingestor = getattr(state, "ingestor", None)
    if ingestor is not None:
        ingestor.config = config


async def load(host: Host) -> None:
    """Apply the stored overrides (at start-up, and when another worker changed them)."""
    from colonnade.plugins.rag.models import RagSetting

    state = host.state("rag")
    row = await RagSetting.get_or_none(id=ROW_ID)
    version, overrides = (row.version, row.overrides or {}) if row is not None else (0, {})
    base = host.plugin_config("rag")
    try:
        config = layered(base, overrides)
        if config.embedding_function not in state.service.functions:
            raise ApiError(400, f"unknown embedding engine {config.embedding_function!r}")
    except ApiError as error:  # the file or the plugins changed since: the file's values hold
        log.error("stored retrieval settings not applied (%s); using the configuration file's", error.detail)
        config = base
    apply(host, config)
    state.settings_version = version


async def refresh(host: Host, *, force: bool = False) -> None:
    """Pick up a change made by another worker, looking at most every :data:`RECHECK_SECONDS`."""
    from colonnade.plugins.rag.models import RagSetting

    state = host.state("rag")
    if getattr(state, "service", None) is None:
        return
    now = time.monotonic()
    if not force and now - getattr(state, "settings_checked", float("-inf")) < RECHECK_SECONDS:
        return
    state.settings_checked = now
    row = await fetch_one(RagSetting, VERSION, [ROW_ID], inline=True)
    if (row["version"] if row else 0) != getattr(state, "settings_version", 0):
        await load(host)


async def refresh_quietly(host: Host) -> None:
    """:func:`refresh`, logging a failure instead of raising it (the settings in use stay).

    Called where the settings are used (the rag, knowledge and memory routes, retrieval and memories
    in completions), not on every request of the application.
    """
    try:
        await refresh(host)
    except Exception as error:  # noqa: BLE001 - the settings in use stay; the request goes on
        log.warning("could not check the stored retrieval settings: %s", error)


async def before_request() -> None:
    """A ``before_request`` for blueprints whose routes use the retrieval settings."""
    from quart import current_app

    await refresh_quietly(current_app.extensions["colonnade"])


async def update(host: Host, changes: dict[str, Any], actor_id: str) -> RagConfig:
    """Store ``changes`` over the current overrides and apply the result.

    :raises ApiError: 400 when the result is not a valid configuration; nothing is stored then.
    """
    from colonnade.plugins.rag.models import RagSetting, now

    state = host.state("rag")
    await RagSetting.get_or_create(id=ROW_ID, defaults={"overrides": {}, "version": 0})
    async with in_transaction(RagSetting._meta.default_connection):
        row = await RagSetting.select_for_update().get(id=ROW_ID)
        overrides = {**(row.overrides or {}), **changes}
        config = layered(host.plugin_config("rag"), overrides)
        if config.embedding_function not in state.service.functions:
            known = ", ".join(sorted(state.service.functions))
            raise ApiError(400, f"Unknown embedding engine {config.embedding_function!r} (known: {known})")
        row.overrides, row.version = overrides, row.version + 1
        row.updated_at, row.updated_by = now(), actor_id
        await row.save()
    apply(host, config)
    state.settings_version = row.version
    log.info("retrieval settings changed by %s: %s", actor_id, ", ".join(sorted(changes)) or "nothing")
    return config

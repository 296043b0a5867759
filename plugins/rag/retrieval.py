"""Who may search which collection, results in Open WebUI's shapes, and context for completions.

Collections a caller may search (admins: every one, unfiltered):

- ``file-<id>``: a file the caller may see (their own; any, with ``files.manage``);
- a knowledge base id: one they may read;
- ``user-memory-<user id>``: their own only;
- any other name (texts ingested without a collection): only the caller's own chunks
  (``owner_id`` filter), so a user never retrieves another user's private chunks.

Anything else is a 404 naming the collection.
"""

from __future__ import annotations

import logging
from typing import Any

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.plugins.rag.embedding import EmbeddingError
from colonnade.plugins.rag.ingest import file_collection
from colonnade.plugins.rag.knowledge import Viewer, find
from colonnade.plugins.rag.service import RagService
from colonnade.plugins.rag.template import fill, source_tags
from colonnade.plugins.rag.vectors import (
    COLLECTION_PATTERN,
    CollectionMismatch,
    Filter,
    VectorHit,
    VectorStoreError,
)

log = logging.getLogger("colonnade.rag")

MEMORY_PREFIX = "user-memory-"


async def visible_file(host: Any, actor: Actor, file_id: str) -> Any:
    """The files plugin's record of ``file_id`` if the caller may see it; else 404."""
    files = getattr(host.state("files"), "service", None)
    if files is None:
        raise ApiError(404, f"File {file_id} not found: the files plugin is not loaded")
    return await files.visible_file(actor, file_id)


async def scope(
    host: Any,
    actor: Actor,
    collection_names: list[str] = (),
    knowledge_ids: list[str] = (),
    file_ids: list[str] = (),
) -> dict[str, Filter | None]:
    """``{collection: filter}`` for what the caller asked to search; 404 for what they may not.

    :raises ApiError: 400 for a malformed name, 404 for a collection the caller may not search.
    """
    from colonnade.plugins.rag.models import Knowledge

    scoped: dict[str, Filter | None] = {}
    viewer = None
    for file_id in file_ids:
        await visible_file(host, actor, file_id)
        scoped[file_collection(file_id)] = None
    for name in [*knowledge_ids, *collection_names]:
        if not isinstance(name, str) or not COLLECTION_PATTERN.match(name):
            raise ApiError(400, f"Invalid collection name {name!r}")
        if name in scoped:
            continue
        if name.startswith("file-") and len(name) > 5:
            await visible_file(host, actor, name[5:])
            scoped[name] = None
        elif name.startswith(MEMORY_PREFIX):
            if name != MEMORY_PREFIX + actor.id and not actor.is_admin:
                raise ApiError(404, f"Collection {name} not found")
            scoped[name] = None
        elif len(name) <= 36 and await Knowledge.exists(id=name):
            viewer = viewer or await Viewer.load(actor)
            await find(viewer, name)
            scoped[name] = None
        elif name in knowledge_ids:
            raise ApiError(404, f"Knowledge base {name} not found")
        else:
            scoped[name] = None if actor.is_admin else {"owner_id": actor.id}
    return scoped


def collection_result(hits: list[VectorHit]) -> dict[str, Any]:
    """Open WebUI's merged query result: one inner list per query (here one)."""
    return {
        "distances": [[round(hit.score, 6) for hit in hits]],
        "documents": [[hit.text for hit in hits]],
        "metadatas": [[hit.metadata for hit in hits]],
    }


def doc_result(hits: list[VectorHit]) -> dict[str, Any]:
    """Open WebUI's vector-search result for ``/query/doc`` (``ids`` too)."""
    return {"ids": [[hit.id for hit in hits]], **collection_result(hits)}


# -- context for completions -------------------------------------------------------------------------


def last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    part.get("text", "")
                    for part in content
                    if isinstance(part, dict) and part.get("type") == "text"
                )
    return ""


def items_of(ctx: Any) -> list[tuple[dict[str, Any], bool]]:
    """``(item, from_model)`` for the request's ``files`` and the workspace model's ``knowledge``."""
    found: list[tuple[dict[str, Any], bool]] = []
    for item in ctx.metadata.get("files") or ():
        if isinstance(item, dict):
            found.append((item, False))
    info = ctx.model.get("info") if isinstance(ctx.model, dict) else None
    meta = (info or {}).get("meta") if isinstance(info, dict) else None
    for item in (meta or {}).get("knowledge") or ():
        if isinstance(item, dict):
            found.append((item, True))
    return found


async def item_collections(
    host: Any, actor: Actor, item: dict[str, Any], from_model: bool
) -> dict[str, Filter | None]:
    """The collections one attached item stands for (``{}`` when it names nothing searchable)."""
    kind = item.get("type")
    item_id = item.get("id")
    names = [name for name in item.get("collection_names") or () if isinstance(name, str)]
    if isinstance(item.get("collection_name"), str):
        names.append(item["collection_name"])
    if kind == "file" and isinstance(item_id, str):
        names.append(file_collection(item_id))
    elif kind == "collection" and isinstance(item_id, str):
        names.append(item_id)
    elif kind is None and isinstance(item_id, str) and not names:
        names.append(item_id)  # knowledge attached to a model: the knowledge base itself
    if from_model:
        # Sharing a model shares the knowledge attached to it (the owner chose it).
        return {name: None for name in names if COLLECTION_PATTERN.match(name)}
    try:
        return await scope(host, actor, collection_names=names)
    except ApiError:
        return {}


def source_item(item: dict[str, Any]) -> dict[str, Any]:
    """The item as shown in a source (without bulky fields)."""
    shown = {key: value for key, value in item.items() if key not in ("file", "content", "data")}
    shown.setdefault("type", "collection")
    return shown


async def gather_sources(host: Any, rag: RagService, ctx: Any) -> list[dict[str, Any]]:
    """Search every attached item's collections at once for the last user message (the best ``top_k``
    over all of them, as Open WebUI does) and group the chunks by item: Open WebUI's ``sources``."""
    query = last_user_text(ctx.request.get("messages") or [])
    if not query.strip():
        return []
    texts: list[dict[str, Any]] = []
    owners: dict[str, dict[str, Any]] = {}
    collections: dict[str, Filter | None] = {}
    for item, from_model in items_of(ctx):
        if item.get("type") == "text" and isinstance(item.get("content"), str):
            texts.append({"source": source_item(item), "document": [item["content"]], "metadata": [{}]})
            continue
        for name, where in (await item_collections(host, ctx.actor, item, from_model)).items():
            if name not in collections:
                collections[name] = where
                owners[name] = item
    hits: list[VectorHit] = []
    if collections:
        try:
            hits = await rag.search(collections, query)
        except (EmbeddingError, CollectionMismatch, VectorStoreError) as error:
            log.warning("retrieval for a completion failed: %s", getattr(error, "detail", error))
    grouped: dict[int, dict[str, Any]] = {}
    for hit in hits:
        item = owners[hit.collection]
        source = grouped.setdefault(
            id(item), {"source": source_item(item), "document": [], "metadata": [], "distances": []}
        )
        source["document"].append(hit.text)
        source["metadata"].append(hit.metadata)
        source["distances"].append(round(hit.score, 6))
    return [*texts, *grouped.values()]


def inject(request: dict[str, Any], template: str, sources: list[dict[str, Any]], *, system: bool) -> None:
    """Put the filled template before the last user message (or into the system message)."""
    messages = request.get("messages") or []
    query = last_user_text(messages)
    context = fill(template, source_tags(sources), query)
    if system:
        for message in messages:
            if (
                isinstance(message, dict)
                and message.get("role") == "system"
                and isinstance(message.get("content"), str)
            ):
                message["content"] = f"{message['content']}\n{context}"
                return
        messages.insert(0, {"role": "system", "content": context})
        return
    for message in reversed(messages):
        if not (isinstance(message, dict) and message.get("role") == "user"):
            continue
        content = message.get("content")
        if isinstance(content, str):
            message["content"] = f"{context}\n{content}"
        elif isinstance(content, list):
            content.insert(0, {"type": "text", "text": context})
        return


SOURCES_KEY = "rag_sources"


async def add_context(host: Any, ctx: Any) -> None:
    """The ``completion_inlet`` work: retrieve for the attached items and inject the template."""
    from colonnade.plugins.rag.overrides import refresh_quietly

    await refresh_quietly(host)
    rag = getattr(host.state("rag"), "service", None)
    if rag is None:
        return
    sources = await gather_sources(host, rag, ctx)
    if not sources:
        return
    inject(ctx.request, rag.config.template, sources, system=rag.config.system_context)
    ctx.metadata[SOURCES_KEY] = sources


def sources_first(sources: list[dict[str, Any]]) -> Any:
    """A stream wrapper whose first event is ``{"sources": [...]}``, as Open WebUI sends API callers."""

    async def wrap(chunks: Any) -> Any:
        yield {"sources": sources}
        async for chunk in chunks:
            yield chunk

    return wrap

"""Memory routes, mounted at ``/api/memory`` (the spec) and ``/api/v1/memories`` (Open WebUI).

Both prefixes serve the same views. Where the two differ the view asks :func:`owui`: the spec's create
answers 201 and its delete of an unknown id 404, where Open WebUI answers 200 and ``false``. Another
user's memory is never shown, changed or searched: it is "not found" on both.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app, jsonify, request
from quart_schema import validate_request
from tortoise.expressions import Q

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.memory import batch, store
from colonnade.plugins.memory.models import Memory
from colonnade.plugins.memory.schemas import (
    AddMemoryForm,
    MemoryOperationsForm,
    PathForm,
    PathsForm,
    QueryMemoryForm,
    SearchMemoryForm,
    UpdateMemoryForm,
)
from colonnade.plugins.rag import overrides
from colonnade.plugins.rag.retrieval import doc_result
from colonnade.plugins.rag.service import RagService, rag_service

bp = Blueprint("memory", __name__)
bp.before_request(overrides.before_request)  # another worker's change to the embedding

#: Where the blueprint is mounted: ``{blueprint name: url prefix}`` (``*_v1`` is Open WebUI's).
PREFIXES = {"memory": "/api/memory", "memory_v1": "/api/v1/memories"}


def owui() -> bool:
    """Whether the request came in on Open WebUI's prefix."""
    return (request.blueprint or "").endswith("_v1")


def rag() -> RagService:
    return rag_service(current_app.extensions["colonnade"])


def check_length(content: str | None) -> None:
    limit = current_app.extensions["colonnade"].plugin_config("memory").max_content_length
    if content is not None and len(content) > limit:
        raise ApiError(400, f"Memory too long: at most {limit} characters")


def listed(memories: list[Memory]) -> Any:
    return jsonify([store.memory_json(memory) for memory in memories])


@bp.get("")
@bp.get("/")
@require("memory.use")
async def list_memories(actor: Actor):
    """Every memory of the caller, oldest first."""
    return listed(await store.list_memories(actor.id))


@bp.post("")
@bp.post("/")
@bp.post("/add")
@require("memory.use")
@validate_request(AddMemoryForm)
async def add_memory(data: AddMemoryForm, actor: Actor):
    """Store a memory and embed it."""
    check_length(data.content)
    meta = data.meta if data.meta is not None else {"created_by": actor.id}
    memory = await store.add(rag(), actor.id, data.content, type=data.type, path=data.path, meta=meta)
    status = 200 if owui() or request.path.endswith("/add") else 201
    return jsonify(store.memory_json(memory)), status


@bp.post("/query")
@require("memory.use")
@validate_request(QueryMemoryForm)
async def query_memories(data: QueryMemoryForm, actor: Actor):
    """The caller's ``k`` memories nearest in meaning to ``content`` (Open WebUI's search result)."""
    if not await Memory.exists(user_id=actor.id):
        raise ApiError(404, "No memories found for user")
    found = await store.search(rag(), actor.id, data.content, data.k)
    return jsonify(doc_result([hit for _memory, hit in found]))


@bp.post("/search")
@require("memory.use")
@validate_request(SearchMemoryForm)
async def search_memories(data: SearchMemoryForm, actor: Actor):
    """A text search over the caller's memories (Open WebUI's ``/memories/search``), newest first."""
    found = Memory.filter(user_id=actor.id)
    if data.memory_id is not None:
        found = found.filter(id=data.memory_id)
    if data.type != "all":
        found = found.filter(type=data.type)
    if data.path and data.path.strip("/"):
        path = data.path.rstrip("/")
        found = found.filter(Q(path=path) | Q(path__startswith=path + "/"))
    if data.query:
        found = found.filter(content__icontains=data.query)
    return listed(await found.order_by("-updated_at", "id").limit(data.limit))


@bp.post("/update")
@require("memory.use")
@validate_request(MemoryOperationsForm)
async def apply_operations(data: MemoryOperationsForm, actor: Actor):
    """Open WebUI's batch of changes (add, replace, remove, move), checked whole, then applied."""
    for operation in data.operations:
        check_length(operation.content)
    return jsonify(await batch.apply(rag(), actor.id, data.operations, data.source))


@bp.post("/paths")
@require("memory.use")
@validate_request(PathsForm)
async def list_paths(data: PathsForm, actor: Actor):
    """The caller's memory paths with how many memories each holds."""
    return jsonify(await batch.paths(actor.id, data.query, data.type, data.limit))


@bp.post("/path")
@require("memory.use")
@validate_request(PathForm)
async def memories_under_path(data: PathForm, actor: Actor):
    """The caller's memories at one path (and below it, unless ``include_children`` is false)."""
    return jsonify(await batch.under_path(actor.id, data.path, data.type, data.include_children, data.limit))


@bp.post("/reset")
@require("memory.use")
async def reset_memories(actor: Actor):
    """Embed every memory of the caller again, into a fresh collection. Answers ``true``."""
    await store.reset(rag(), actor.id)
    return jsonify(True)


@bp.post("/reindex")
@require("memory.manage")
async def reindex_memories(actor: Actor):
    """Embed every user's memories again (after the embedding changed)."""
    users, memories = await store.reindex_everyone(rag())
    return jsonify({"status": True, "total_users": users, "total_memories": memories})


@bp.delete("")
@bp.delete("/")
@bp.delete("/delete/user")
@require("memory.use")
async def delete_all_memories(actor: Actor):
    """Delete every memory of the caller and their vectors. Answers ``true``."""
    await store.delete_all(rag(), actor.id)
    return jsonify(True)


@bp.get("/<memory_id>")
@require("memory.use")
async def get_memory(memory_id: str, actor: Actor):
    """One memory of the caller (an extension: Open WebUI has no such route)."""
    return jsonify(store.memory_json(await store.find(actor.id, memory_id)))


@bp.post("/<memory_id>")
@bp.post("/<memory_id>/update")
@require("memory.use")
@validate_request(UpdateMemoryForm)
async def update_memory(memory_id: str, data: UpdateMemoryForm, actor: Actor):
    """Change a memory's content, type, path or meta, and embed it again."""
    changes = {
        key: getattr(data, key)
        for key in ("content", "type", "path", "meta")
        if key in data.model_fields_set and (getattr(data, key) is not None or key in ("path", "meta"))
    }
    if not changes:
        raise ApiError(400, "No memory update provided")
    check_length(changes.get("content"))
    memory = await store.find(actor.id, memory_id)
    return jsonify(store.memory_json(await store.update(rag(), memory, changes)))


@bp.delete("/<memory_id>")
@require("memory.use")
async def delete_memory(memory_id: str, actor: Actor):
    """Delete a memory and its vector. Answers ``true``; an unknown id is a 404 (Open WebUI: ``false``)."""
    try:
        memory = await store.find(actor.id, memory_id)
    except ApiError:
        if owui():
            return jsonify(False)
        raise
    await store.delete(rag(), memory)
    return jsonify(True)

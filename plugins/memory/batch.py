"""Open WebUI's batched memory changes (``POST /api/v1/memories/update``) and its path views.

A batch is checked whole before anything changes: every id must be one of the caller's memories
(else 404) and appear once; every new text is embedded in one go. Only then are the vectors written
and the rows changed, the rows in one transaction.
"""

from __future__ import annotations

from typing import Any

from tortoise.functions import Count, Max
from tortoise.transactions import in_transaction

from colonnade.errors import ApiError
from colonnade.plugins.memory import store
from colonnade.plugins.memory.models import Memory, new_id, now
from colonnade.plugins.memory.schemas import MemoryOperation
from colonnade.plugins.rag.service import RagService

#: The ``status`` of each action's result.
STATUSES = {"add": "created", "replace": "updated", "move": "updated", "remove": "deleted"}


async def apply(
    rag: RagService, user_id: str, operations: list[MemoryOperation], source: str | None
) -> list[dict[str, Any]]:
    """Apply the operations in order; :return: ``[{"action", "status", "memory"}]``, one per operation.

    :raises ApiError: 400 for an id named twice, 404 for an id that is not the caller's memory, and
        the retrieval errors of :func:`~colonnade.plugins.memory.store.guarded`; nothing has changed then.
    """
    ids = [operation.id for operation in operations if operation.id is not None]
    if len(ids) != len(set(ids)):
        raise ApiError(400, "Each memory may appear only once in a batch")
    memories = {memory.id: memory for memory in await Memory.filter(user_id=user_id, id__in=ids)}
    for memory_id in ids:
        if memory_id not in memories:
            raise ApiError(404, f"Memory {memory_id} not found")
    texts = [operation.content or "" for operation in operations if operation.action in ("add", "replace")]
    vectors = iter(await store.guarded(rag.embedder.embed(texts)) if texts else [])
    collection = store.collection_of(user_id)
    if texts:
        await store.guarded(rag.collection(collection, create=True))

    stamp = now()
    changed: list[tuple[MemoryOperation, Memory]] = []
    for operation in operations:
        if operation.action == "add":
            memory = Memory(
                id=new_id(),
                user_id=user_id,
                type=operation.type or "context",
                path=operation.path,
                content=operation.content,
                meta={"created_by": user_id, **({"source": source} if source else {})},
                created_at=stamp,
                updated_at=stamp,
            )
        else:
            memory = memories[operation.id or ""]
            if operation.action != "remove":  # a removed memory is answered as it was stored
                memory.updated_at = stamp
            if operation.action == "replace":
                memory.content = operation.content or memory.content
                memory.type = operation.type or memory.type
                if "path" in operation.model_fields_set:
                    memory.path = operation.path
            elif operation.action == "move":
                memory.path = operation.path
        changed.append((operation, memory))

    # Vectors first (a row without its vector would be found by text but never by meaning).
    for operation, memory in changed:
        if operation.action in ("add", "replace"):
            item = (memory.id, memory.content, store.vector_metadata(memory))
            await store.guarded(
                rag.store_vectors(collection, [item], [next(vectors)], new=operation.action == "add")
            )
        elif operation.action == "move" and not await store.restamp(rag, memory):
            await store.index(rag, [memory])
    async with in_transaction():
        for operation, memory in changed:
            if operation.action == "add":
                await memory.save(force_create=True)
            elif operation.action == "remove":
                await memory.delete()
            else:
                await memory.save(update_fields=["content", "type", "path", "updated_at"])
    removed = [memory.id for operation, memory in changed if operation.action == "remove"]
    if removed:
        await store.forget_vectors(rag, user_id, removed)
    return [
        {
            "action": operation.action,
            "status": STATUSES[operation.action],
            "memory": store.memory_json(memory),
        }
        for operation, memory in changed
    ]


def _of_type(query: Any, memory_type: str) -> Any:
    return query if memory_type == "all" else query.filter(type=memory_type)


async def paths(user_id: str, text: str | None, memory_type: str, limit: int) -> list[dict[str, Any]]:
    """The caller's paths (containing ``text``), each with its count of memories and latest change."""
    query = _of_type(Memory.filter(user_id=user_id, path__isnull=False), memory_type)
    if text:
        query = query.filter(path__icontains=text)
    rows = (
        await query.annotate(count=Count("id"), updated_at_max=Max("updated_at"))
        .group_by("path")
        .order_by("path")
        .limit(limit)
        .values("path", "count", "updated_at_max")
    )
    return [{"path": row["path"], "count": row["count"], "updated_at": row["updated_at_max"]} for row in rows]


async def under_path(
    user_id: str, path: str, memory_type: str, include_children: bool, limit: int
) -> dict[str, Any]:
    """The caller's memories at ``path`` (and under it, with ``include_children``), newest first."""
    from tortoise.expressions import Q

    path = path.rstrip("/") or path
    where = Q(path=path) | Q(path__startswith=path + "/") if include_children else Q(path=path)
    query = _of_type(Memory.filter(where, user_id=user_id), memory_type)
    total = await query.count()
    memories = await query.order_by("-updated_at", "id").limit(limit)
    return {"path": path, "count": total, "memories": [store.memory_json(memory) for memory in memories]}

"""Reading and writing a user's memories, keeping their vectors in step with the rows.

Each user's memories are embedded into their own collection, ``user-memory-<user id>`` (Open WebUI's
name), through the ``rag`` plugin's :class:`~colonnade.plugins.rag.service.RagService`; every vector
also carries ``owner_id``, and searches filter on it. Writes embed first and touch the row after, so
an embedding failure (an upstream down, a mismatched collection) changes nothing.

Every function takes the caller's user id: another user's memory is "not found", never reachable.
"""

from __future__ import annotations

import logging
from typing import Any

from colonnade.errors import ApiError
from colonnade.plugins.memory.models import Memory, new_id, now
from colonnade.plugins.rag.service import RagService, as_api_error
from colonnade.plugins.rag.vectors import VectorHit

log = logging.getLogger("colonnade.memory")

#: Open WebUI's prefix of a user's memory collection (``rag`` lets only that user search it).
COLLECTION_PREFIX = "user-memory-"
#: The ``metadata.source`` of memory vectors.
SOURCE = "memory"


def collection_of(user_id: str) -> str:
    return COLLECTION_PREFIX + user_id


def memory_json(memory: Memory) -> dict[str, Any]:
    """Open WebUI's ``MemoryModel``."""
    return {
        "id": memory.id,
        "user_id": memory.user_id,
        "type": memory.type,
        "path": memory.path,
        "content": memory.content,
        "meta": memory.meta,
        "updated_at": memory.updated_at,
        "created_at": memory.created_at,
    }


def vector_metadata(memory: Memory) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "owner_id": memory.user_id,
        "source": SOURCE,
        "type": memory.type,
        "created_at": memory.created_at,
        "updated_at": memory.updated_at,
    }
    if memory.path:
        metadata["path"] = memory.path
    return metadata


async def guarded(awaitable: Any) -> Any:
    """Await a retrieval call, answering its failures as HTTP errors (409, 502, 504...)."""
    try:
        return await awaitable
    except ApiError:
        raise
    except Exception as error:  # noqa: BLE001 - as_api_error re-raises what it does not know
        raise as_api_error(error) from None


async def index(rag: RagService, memories: list[Memory]) -> None:
    """Embed ``memories`` (all of one user) into their collection, replacing their old vectors."""
    if memories:
        items = [(memory.id, memory.content, vector_metadata(memory)) for memory in memories]
        await guarded(rag.index(collection_of(memories[0].user_id), items))


async def list_memories(user_id: str) -> list[Memory]:
    return await Memory.filter(user_id=user_id).order_by("created_at", "id")


async def find(user_id: str, memory_id: str) -> Memory:
    """The caller's memory ``memory_id``; 404 when it is missing or someone else's."""
    memory = await Memory.get_or_none(id=memory_id, user_id=user_id) if len(memory_id) <= 36 else None
    if memory is None:
        raise ApiError(404, "Memory not found")
    return memory


async def add(
    rag: RagService,
    user_id: str,
    content: str,
    *,
    type: str = "context",
    path: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Memory:
    """Store a memory and its vector (the vector first: a failed embedding stores nothing)."""
    stamp = now()
    memory = Memory(
        id=new_id(),
        user_id=user_id,
        type=type,
        path=path,
        content=content,
        meta=meta,
        created_at=stamp,
        updated_at=stamp,
    )
    await index(rag, [memory])
    try:
        await memory.save(force_create=True)
    except Exception:
        await forget_vectors(rag, user_id, [memory.id])
        raise
    return memory


async def update(rag: RagService, memory: Memory, changes: dict[str, Any]) -> Memory:
    """Apply ``changes`` (``content``, ``type``, ``path``, ``meta``); a new content is embedded again,
    other changes only rewrite the vector's metadata."""
    new_text = changes.get("content", memory.content) != memory.content
    for key, value in changes.items():
        setattr(memory, key, value)
    memory.updated_at = now()
    if new_text or not await restamp(rag, memory):
        await index(rag, [memory])
    await memory.save(update_fields=[*changes, "updated_at"])
    return memory


async def restamp(rag: RagService, memory: Memory) -> bool:
    """Store the memory's vector again with its current metadata, without embedding; ``False`` when
    there is no vector to reuse."""
    collection = collection_of(memory.user_id)
    if await guarded(rag.collection(collection)) is None:
        return False
    found = await guarded(rag.store.get(collection, {"id": memory.id}, with_vectors=True))
    if not found or not found[0].vector:
        return False
    item = (memory.id, memory.content, vector_metadata(memory))
    await guarded(rag.store_vectors(collection, [item], [found[0].vector]))
    return True


async def delete(rag: RagService, memory: Memory) -> None:
    await memory.delete()
    await forget_vectors(rag, memory.user_id, [memory.id])


async def delete_all(rag: RagService, user_id: str) -> int:
    """Delete every memory of the user and their whole collection; :return: how many went."""
    count = await Memory.filter(user_id=user_id).delete()
    await forget_user(rag, user_id)
    return count


async def forget_user(rag: RagService, user_id: str) -> None:
    """Drop the user's collection (their rows are gone or going)."""
    try:
        await rag.drop(collection_of(user_id))
    except Exception as error:  # noqa: BLE001 - the rows are gone; a stale collection is only searched by id
        log.warning("could not drop the memory collection of user %s: %s", user_id, error)


async def reset(rag: RagService, user_id: str) -> int:
    """Rebuild the user's collection from their rows (after a change of embedding, say).

    The new vectors are computed before the old collection goes, so a failing embedding leaves the
    old one in place. :return: how many memories were embedded.
    """
    memories = await list_memories(user_id)
    collection = collection_of(user_id)
    vectors = await guarded(rag.embedder.embed([memory.content for memory in memories])) if memories else []
    await guarded(rag.drop(collection))
    if memories:
        items = [(memory.id, memory.content, vector_metadata(memory)) for memory in memories]
        await guarded(rag.collection(collection, create=True))
        await guarded(rag.store_vectors(collection, items, vectors, new=True))  # a fresh collection
    return len(memories)


async def search(rag: RagService, user_id: str, text: str, k: int) -> list[tuple[Memory, VectorHit]]:
    """The caller's ``k`` memories nearest to ``text``, best first, with their hits.

    Hits are matched back to the caller's rows, so a vector whose row is gone (or, were it ever
    there, another user's) is never answered.
    """
    collection = collection_of(user_id)
    hits = await guarded(rag.search({collection: {"owner_id": user_id}}, text, k=k))
    if not hits:
        return []
    rows = {memory.id: memory for memory in await Memory.filter(user_id=user_id, id__in=[h.id for h in hits])}
    return [(rows[hit.id], hit) for hit in hits if hit.id in rows]


async def forget_vectors(rag: RagService, user_id: str, memory_ids: list[str]) -> None:
    try:
        await rag.delete(collection_of(user_id), {"id": memory_ids})
    except Exception as error:  # noqa: BLE001 - the row is gone: a leftover vector is never answered
        log.warning("could not delete the vectors of memories %s: %s", memory_ids, error)


async def reindex_everyone(rag: RagService) -> tuple[int, int]:
    """Rebuild every user's collection; :return: ``(users, memories)``."""
    user_ids = sorted(set(await Memory.all().values_list("user_id", flat=True)))
    total = 0
    for user_id in user_ids:
        total += await reset(rag, user_id)
    return len(user_ids), total

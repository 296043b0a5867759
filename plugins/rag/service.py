"""``RagService``: the configured vector store and embedder, and what other plugins call to use them.

One per application, at ``host.state("rag").service`` (or :func:`rag_service`). Another plugin (the
``memory`` plugin, a tool) declares ``requires = ("rag",)`` and then::

    rag = rag_service(host)
    await rag.index("user-memory-" + user.id, [(memory.id, memory.content, {"owner_id": user.id})])
    hits = await rag.search(["user-memory-" + user.id], "what do I like?", k=3)
    await rag.delete("user-memory-" + user.id, {"id": memory.id})

Every collection records the embedding (``"<function>:<model>"``) and dimension that filled it; a
search or a write with another one raises :class:`~colonnade.plugins.rag.vectors.CollectionMismatch`
(answered 409 by :func:`as_api_error`), never mixing vectors silently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from colonnade.errors import ApiError
from colonnade.plugins.rag.embedding import Embedder, EmbeddingError
from colonnade.plugins.rag.vectors import (
    CollectionInfo,
    CollectionMismatch,
    Filter,
    VectorHit,
    VectorRecord,
    VectorStore,
    VectorStoreError,
    check_collection_name,
)

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.plugins.rag.config import RagConfig

log = logging.getLogger("colonnade.rag")

#: The ``k`` of reciprocal rank fusion: how much the first few ranks outweigh the rest.
RRF_K = 60
#: Each side of a hybrid search fetches this many times ``k`` candidates before fusing.
HYBRID_CANDIDATES = 4


def rag_service(host: Host) -> RagService:
    """The application's :class:`RagService`; a 503 when the ``rag`` plugin has not started."""
    service = getattr(host.state("rag"), "service", None)
    if service is None:
        raise ApiError(503, "Retrieval is not available: the rag plugin is not loaded")
    return service


def as_api_error(error: Exception) -> ApiError:
    """The HTTP answer to a retrieval failure (store and upstream details are logged, not sent)."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, CollectionMismatch):
        return ApiError(409, str(error))
    if isinstance(error, EmbeddingError):
        return ApiError(error.status, f"Embedding failed: {error.detail}")
    if isinstance(error, ValueError):
        return ApiError(400, str(error))
    if isinstance(error, VectorStoreError):
        log.error("vector store failed: %s", error)
        return ApiError(502, "The vector store failed; try again later")
    raise error


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class RagService:
    """The configured store and embedder, with the operations every caller needs.

    :param host: The application host.
    :param config: ``[plugins.rag]``.
    :param store: The selected vector store.
    :param embedder: The selected embedding function bound to its model.
    :param stores: Every registered vector store, by name.
    :param functions: Every registered embedding function, by name.
    """

    def __init__(
        self,
        host: Host,
        config: RagConfig,
        store: VectorStore,
        embedder: Embedder,
        stores: Any,
        functions: Any,
    ) -> None:
        self.host = host
        self.config = config
        self.store = store
        self.embedder = embedder
        self.stores = stores
        self.functions = functions

    # -- collections ---------------------------------------------------------------------------------

    async def collection(self, name: str, *, create: bool = False) -> CollectionInfo | None:
        """The collection's record, checked against the configured embedding.

        :param create: Create it (for the embedder's dimension) when missing.
        :raises CollectionMismatch: it was filled by another embedding or dimension.
        """
        check_collection_name(name)
        info = await self.store.collection_info(name)
        if info is None:
            if not create:
                return None
            return await self.store.create_collection(
                name, await self.embedder.dimension(), self.embedder.key
            )
        if info.embedding != self.embedder.key:
            raise CollectionMismatch(name, f"{info.embedding}, {info.dimension} dims", self.embedder.key)
        return info

    async def drop(self, name: str) -> None:
        await self.store.drop_collection(check_collection_name(name))

    # -- writing -------------------------------------------------------------------------------------

    async def index(self, collection: str, items: Sequence[tuple[str, str, dict[str, Any]]]) -> int:
        """Embed and store ``(id, text, metadata)`` items, replacing those with the same ids.

        The collection is created when missing. Each item's metadata gets ``hash`` (of its text) and
        ``embedding_config`` unless given. :return: how many were stored.
        """
        if not items:
            return 0
        await self.collection(collection, create=True)
        vectors = await self.embedder.embed([text for _, text, _ in items])
        await self.store_vectors(collection, items, vectors)
        return len(items)

    async def store_vectors(
        self,
        collection: str,
        items: Sequence[tuple[str, str, dict[str, Any]]],
        vectors: Sequence[list[float]],
        *,
        new: bool = False,
    ) -> None:
        """Store already-embedded items (the collection must exist with this embedding).

        :param new: The ids are known not to be in the collection: a store with an ``insert``
            method then skips looking them up.
        """
        engine, _, model = self.embedder.key.partition(":")
        records = []
        for (record_id, text, metadata), vector in zip(items, vectors, strict=True):
            metadata = dict(metadata)
            metadata.setdefault("hash", content_hash(text))
            metadata.setdefault("embedding_config", {"engine": engine, "model": model})
            records.append(VectorRecord(record_id, text, list(vector), metadata))
        insert = getattr(self.store, "insert", None) if new else None
        await (insert or self.store.upsert)(collection, records)

    async def delete(self, collection: str, where: Filter) -> int:
        """Delete the matching records of ``collection``; :return: how many went."""
        return await self.store.delete(check_collection_name(collection), where)

    # -- searching -----------------------------------------------------------------------------------

    async def search(
        self,
        collections: Iterable[str] | Mapping[str, Filter | None],
        query: str,
        *,
        k: int | None = None,
        where: Filter | None = None,
        threshold: float | None = None,
        hybrid: bool | None = None,
        bm25_weight: float | None = None,
    ) -> list[VectorHit]:
        """The best ``k`` chunks for ``query`` over ``collections``, best first.

        ``collections`` may map each name to a filter of its own (``None``: none), used instead of
        ``where`` for that collection (a caller's own chunks of a shared collection, say).
        Missing collections are skipped. Results are de-duplicated by text (the best score kept) and
        those under ``threshold`` dropped. With ``hybrid`` (default: the configured switch) and a store
        that supports full-text search, vector and BM25 ranks are fused (reciprocal rank fusion,
        ``bm25_weight`` the full-text share) and scores scaled so that first in both is 1.0.
        """
        k = k or self.config.top_k
        threshold = self.config.relevance_threshold if threshold is None else threshold
        hybrid = self.config.hybrid_search if hybrid is None else hybrid
        hybrid = hybrid and getattr(self.store, "supports_text_search", False)
        weight = self.config.hybrid_bm25_weight if bm25_weight is None else bm25_weight
        filters = dict(collections) if isinstance(collections, Mapping) else dict.fromkeys(collections, where)
        names = []
        for name in filters:
            if await self.collection(name) is not None:
                names.append(name)
        if not names or not query.strip():
            return []
        vector = (await self.embedder.embed([query]))[0]

        async def one(name: str) -> list[VectorHit]:
            where = filters[name]
            if not hybrid:
                hits = await self.store.query(name, vector, k, where)
            else:
                wide = k * HYBRID_CANDIDATES
                by_vector, by_text = await asyncio.gather(
                    self.store.query(name, vector, wide, where),
                    self.store.text_query(name, query, wide, where),
                )
                hits = fuse(by_vector, by_text, weight)[:k]
            for hit in hits:
                hit.collection = name
            return hits

        found = [hit for hits in await asyncio.gather(*(one(name) for name in names)) for hit in hits]
        best: dict[str, VectorHit] = {}
        for hit in found:
            key = content_hash(hit.text)
            if key not in best or hit.score > best[key].score:
                best[key] = hit
        ranked = sorted(best.values(), key=lambda hit: hit.score, reverse=True)
        return [hit for hit in ranked if hit.score >= threshold][:k]


def fuse(by_vector: list[VectorHit], by_text: list[VectorHit], text_weight: float) -> list[VectorHit]:
    """Reciprocal rank fusion of two ranked lists, scaled to 0..1 (1.0: first in both)."""
    scores: dict[str, float] = {}
    hits: dict[str, VectorHit] = {}
    for weight, ranked in ((1.0 - text_weight, by_vector), (text_weight, by_text)):
        for rank, hit in enumerate(ranked):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (RRF_K + rank + 1)
            if hit.id not in hits or hits[hit.id].distance is None:
                hits[hit.id] = hit
    top = 1.0 / (RRF_K + 1)
    fused = []
    for hit_id, score in scores.items():
        hit = hits[hit_id]
        fused.append(VectorHit(hit.id, hit.text, hit.metadata, score / top, hit.distance))
    fused.sort(key=lambda hit: hit.score, reverse=True)
    return fused

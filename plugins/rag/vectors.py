"""The ``VectorStore`` protocol: collections of chunks with vectors, searched by similarity.

Third-party stores import this module and register instances through ``register_vector_stores``; the
built-in one is ``lancedb`` (:mod:`colonnade.plugins.rag.lance`). Every method is async; a store that
wraps a blocking client runs it in a thread.

**Collections** are named by the ``rag`` plugin and its callers (``file-<file id>``, a knowledge base
id, ``user-memory-<user id>``): names match :data:`COLLECTION_PATTERN`. Each records the dimension of
its vectors and the embedding that made them (``"<function>:<model>"``), so that vectors of another
embedding are never mixed in.

**Metadata** is a free JSON object per record; the keys in :data:`FILTER_FIELDS` are the ones filters
may name, and a store must be able to filter on them efficiently (the LanceDB store keeps them as
columns). A **filter** is a dict of those keys: a string value must equal, a list value means "any of",
and all keys must hold (``{"owner_id": ["u1", "u2"], "file_id": "f9"}``).

**Scores** are relevance, higher is better, in 0..1 for vector search (``1 - cosine_distance / 2``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

COLLECTION_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
#: The metadata keys a filter may name.
FILTER_FIELDS = ("id", "file_id", "knowledge_id", "owner_id", "hash", "source")

Filter = Mapping[str, str | Sequence[str]]


class VectorStoreError(Exception):
    """The store failed (unreachable, corrupt, out of space). Answered 502; the message is logged."""


class CollectionMismatch(Exception):
    """A collection holds vectors of another dimension or embedding than the one offered.

    :param collection: The collection's name.
    :param expected: What the collection records (``"openai:text-embedding-3-small, 1536 dims"``).
    :param given: What was offered.
    """

    def __init__(self, collection: str, expected: str, given: str) -> None:
        self.collection = collection
        self.expected = expected
        self.given = given
        super().__init__(
            f"collection {collection!r} holds vectors of {expected}, not {given}: re-index it "
            "(or set [plugins.rag] embedding_function and embedding_model back)"
        )


def check_collection_name(name: str) -> str:
    """Return ``name`` if it is a valid collection name, else raise ``ValueError``."""
    if not isinstance(name, str) or not COLLECTION_PATTERN.match(name):
        raise ValueError(f"invalid collection name {name!r}: use 1 to 200 of A-Z a-z 0-9 _ -")
    return name


def check_filter(where: Filter | None) -> dict[str, list[str]]:
    """Normalise a filter to ``{key: [values]}``; unknown keys raise ``ValueError``."""
    normal: dict[str, list[str]] = {}
    for key, value in (where or {}).items():
        if key not in FILTER_FIELDS:
            raise ValueError(f"cannot filter on {key!r}: use one of {', '.join(FILTER_FIELDS)}")
        values = [value] if isinstance(value, str) else list(value)
        if not all(isinstance(item, str) for item in values):
            raise ValueError(f"filter {key!r}: values must be strings")
        normal[key] = values
    return normal


@dataclass
class CollectionInfo:
    """What a collection records about itself."""

    name: str
    dimension: int
    #: ``"<embedding function>:<model>"`` that made its vectors.
    embedding: str
    count: int = 0


@dataclass
class VectorRecord:
    """One chunk to store (``vector`` set) or one read back (``vector`` empty unless asked for)."""

    id: str
    text: str
    vector: list[float] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class VectorHit:
    """One search result: the chunk, its metadata and its relevance (higher is better)."""

    id: str
    text: str
    metadata: dict[str, Any]
    score: float
    #: The store's raw distance for a vector search (cosine, 0..2), ``None`` for text-only hits.
    distance: float | None = None
    #: The collection it came from (set by the ``rag`` service when it searches several).
    collection: str = ""


@runtime_checkable
class VectorStore(Protocol):
    """A place to keep chunks and find the nearest ones.

    ``name`` is the value operators put in ``[plugins.rag] vector_store``. ``supports_text_search``
    says whether :meth:`text_query` works (the ``rag`` plugin then offers hybrid search, fusing text
    and vector ranks). Optional methods called when present: ``async start()`` (at start-up, when
    the store is the selected one), ``async close()`` (at shutdown) and ``async insert(collection,
    records)`` (like :meth:`upsert` for records whose ids are known to be new, so it may skip the
    lookup).
    """

    name: str
    supports_text_search: bool

    async def create_collection(self, name: str, dimension: int, embedding: str) -> CollectionInfo:
        """Create ``name`` for vectors of ``dimension`` made by ``embedding``, or return it if it exists.

        :raises CollectionMismatch: it exists with another dimension or embedding.
        """
        ...

    async def collection_info(self, name: str) -> CollectionInfo | None:
        """The collection's record, or ``None`` if there is no such collection."""
        ...

    async def list_collections(self) -> list[str]: ...

    async def drop_collection(self, name: str) -> None:
        """Remove the collection and everything in it; no error when it does not exist."""
        ...

    async def upsert(self, collection: str, records: Sequence[VectorRecord]) -> None:
        """Insert the records, replacing any with the same ``id``. The collection must exist and
        every vector must have its dimension (else ``ValueError``)."""
        ...

    async def delete(self, collection: str, where: Filter) -> int:
        """Delete the records matching ``where`` (never everything: an empty filter is a
        ``ValueError``); return how many went. A missing collection deletes nothing."""
        ...

    async def get(
        self,
        collection: str,
        where: Filter | None = None,
        *,
        limit: int | None = None,
        with_vectors: bool = False,
    ) -> list[VectorRecord]:
        """The records matching ``where`` in insertion order (``[]`` for a missing collection)."""
        ...

    async def count(self, collection: str, where: Filter | None = None) -> int: ...

    async def query(
        self, collection: str, vector: Sequence[float], k: int, where: Filter | None = None
    ) -> list[VectorHit]:
        """The ``k`` records nearest to ``vector`` among those matching ``where``, best first
        (``[]`` for a missing collection)."""
        ...

    async def text_query(
        self, collection: str, text: str, k: int, where: Filter | None = None
    ) -> list[VectorHit]:
        """The ``k`` best full-text (BM25) matches of ``text``, best first; only when
        ``supports_text_search``. Scores are the store's own and only their order matters."""
        ...

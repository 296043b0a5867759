"""The built-in ``lancedb`` vector store: one LanceDB table per collection, embedded, no server.

The database is a directory (``[plugins.rag] vector_store_uri``, by default ``<data dir>/vectors``) or
an object-storage URI (``s3://bucket/prefix``) for several hosts. ``lancedb`` and ``pyarrow`` are
imported on first use, never at start-up: together they cost about a second and 130 MB.

Each table has the columns ``id``, ``text``, ``vector`` (fixed-size float32), the filterable metadata
keys (:data:`~colonnade.plugins.rag.vectors.FILTER_FIELDS`), ``position`` and ``metadata`` (the rest,
as JSON). Its schema metadata records the dimension and the embedding, so a mismatch is caught
before anything is written. LanceDB's client blocks, so every call runs in a worker thread; writes to
one table are serialised in-process.

Table handles are kept; each read through one first looks for a newer version (so other workers'
writes, compactions and drops are seen at once). A read whose table was dropped under it (and maybe
created again) is tried once more on a fresh handle; a collection that is gone reads as empty.
:meth:`LanceDBStore.drop_collection` waits for the writes and upkeep at work on the table it drops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from colonnade.plugins.rag.lance_rows import (
    DIMENSION_KEY,
    EMBEDDING_KEY,
    build_text_index,
    build_vector_index,
    collection_schema,
    connect_database,
    open_table,
    read_rows,
    records_table,
    row_metadata,
    table_names,
    text_rows,
    vector_rows,
    where_sql,
)
from colonnade.plugins.rag.vectors import (
    CollectionInfo,
    CollectionMismatch,
    Filter,
    VectorHit,
    VectorRecord,
    VectorStoreError,
    check_collection_name,
)

log = logging.getLogger("colonnade.rag")

#: Rows from which a collection gets an approximate vector index (IVF, exact distances within the
#: partitions searched); smaller collections are searched exhaustively, which is fast enough there.
VECTOR_INDEX_MIN_ROWS = 5_000
#: Partitions searched per query (an index has the square root of its rows as partitions).
NPROBES = 20
#: Writes after which a collection without a vector index is compacted, in the background.
OPTIMIZE_AFTER_WRITES = 100
#: Growth since the last build at which the vector index is rebuilt (with more partitions).
REINDEX_GROWTH = 2.0
#: Seconds without writes after which a collection of ``index_min_rows`` or more, changed since its
#: last upkeep, gets one (so a burst of ingests ends with every row indexed), when at least this
#: share of its rows changed.
SETTLE_SECONDS = 5.0
SETTLE_MIN_SHARE = 0.01


class LanceDBStore:
    """:class:`~colonnade.plugins.rag.vectors.VectorStore` on LanceDB.

    :param uri: A directory or an object-storage URI.
    :param storage_options: Passed to ``lancedb.connect`` (object-storage credentials, endpoint).
    :param index_min_rows: Rows from which a collection gets its vector index.

    Upkeep runs in the background after writes, one task per collection at a time: the vector
    index is built once a collection reaches ``index_min_rows``, and every ``OPTIMIZE_AFTER_WRITES``
    writes the small pieces each write leaves are compacted and new rows added to the indexes
    (rows not yet indexed are still searched, exhaustively). :meth:`idle` waits for it.
    """

    name = "lancedb"
    supports_text_search = True

    def __init__(
        self,
        uri: str | Path,
        storage_options: dict[str, str] | None = None,
        index_min_rows: int = VECTOR_INDEX_MIN_ROWS,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self.uri = str(uri)
        self.storage_options = dict(storage_options or {})
        self.index_min_rows = index_min_rows
        self.settle_seconds = settle_seconds
        self._db: Any = None
        self._tables: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._rows: dict[str, int] = {}
        self._vector_indexed: dict[str, bool] = {}
        #: Rows when the vector index was (last) built: it is rebuilt, with more partitions, once the
        #: collection has doubled since, so partitions stay small.
        self._indexed_rows: dict[str, int] = {}
        self._text_indexed: dict[str, bool] = {}
        #: ``(dimension, embedding)`` from each open table's schema (fixed when it is created).
        self._recorded: dict[str, tuple[int, str]] = {}
        self._writes: dict[str, int] = {}
        self._upkeep: dict[str, asyncio.Task[None]] = {}
        self._settling: dict[str, asyncio.Task[None]] = {}
        #: Writes ever (to notice quiet), and rows changed since the last upkeep.
        self._writes_total: dict[str, int] = {}
        self._changed: dict[str, int] = {}
        self._connecting = asyncio.Lock()
        #: Held while a vector index is built (outside the write lock: it takes seconds).
        self._building: dict[str, asyncio.Lock] = {}
        #: Bumped when a collection is dropped: a handle opened across a drop is not kept.
        self._generation: dict[str, int] = {}
        #: Set when the drop of the collection under way is done.
        self._dropping: dict[str, asyncio.Event] = {}

    # -- connection ----------------------------------------------------------------------------------

    async def _connect(self) -> Any:
        if self._db is None:
            async with self._connecting:
                if self._db is None:
                    self._db = await self._run(connect_database, self.uri, self.storage_options)
        return self._db

    @staticmethod
    async def _run(function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (ValueError, CollectionMismatch):
            raise
        except Exception as error:
            raise VectorStoreError(f"lancedb: {error}") from error

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def _table(self, name: str) -> Any | None:
        check_collection_name(name)
        failed = False
        while (table := self._tables.get(name)) is None:
            await self._after_drop(name)
            generation = self._generation.get(name, 0)
            db = await self._connect()
            if name not in await self._run(table_names, db):
                return None
            try:
                table, rows, indices = await self._run(open_table, db, name)
            except ValueError:  # dropped since it was listed, or not quite created yet
                return None
            except VectorStoreError:  # dropped under the open, maybe by another worker
                if failed:
                    raise
                failed = True
                continue
            if self._generation.get(name, 0) == generation and name not in self._tables:
                break
            # Dropped (or opened by another call) meanwhile: this handle may be of the old table.
        else:
            return table
        self._rows[name] = rows
        self._vector_indexed[name] = "vector_idx" in indices
        self._indexed_rows[name] = rows
        self._text_indexed[name] = "text_idx" in indices
        self._tables[name] = table
        return table

    async def close(self) -> None:
        tasks = [task for task in [*self._upkeep.values(), *self._settling.values()] if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._upkeep.clear()
        self._settling.clear()
        self._tables.clear()
        self._db = None

    async def idle(self) -> None:
        """Wait until no background upkeep (index builds, compaction) is running or pending
        (the quiet-time upkeep comes ``settle_seconds`` after the last write)."""
        while tasks := [
            task for task in [*self._upkeep.values(), *self._settling.values()] if not task.done()
        ]:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- upkeep --------------------------------------------------------------------------------------

    def _wrote(self, name: str, table: Any, rows: int) -> None:
        """Count a write and start the collection's upkeep when it is due."""
        self._rows[name] = max(0, self._rows.get(name, 0) + rows)
        self._writes[name] = self._writes.get(name, 0) + 1
        self._writes_total[name] = self._writes_total.get(name, 0) + 1
        self._changed[name] = self._changed.get(name, 0) + abs(rows)
        settling = self._settling.get(name)
        # Small collections are searched exhaustively: only compaction (every few writes) matters.
        big = self._rows[name] >= self.index_min_rows
        if big and (settling is None or settling.done()):
            self._settling[name] = asyncio.get_running_loop().create_task(self._settle(name, table))
        running = self._upkeep.get(name)
        if running is not None and not running.done():
            return
        small = not self._vector_indexed.get(name)
        if self._wants_index(name) or (small and self._writes[name] >= OPTIMIZE_AFTER_WRITES):
            self._upkeep[name] = asyncio.get_running_loop().create_task(self._keep_up(name, table))

    def _wants_index(self, name: str) -> bool:
        rows = self._rows.get(name, 0)
        if not self._vector_indexed.get(name):
            return rows >= self.index_min_rows
        return rows >= REINDEX_GROWTH * max(self._indexed_rows.get(name, 0), self.index_min_rows)

    async def _settle(self, name: str, table: Any) -> None:
        """Once writes to the collection stop for ``settle_seconds``, do its upkeep if enough changed."""
        while True:
            seen = self._writes_total.get(name, 0)
            await asyncio.sleep(self.settle_seconds)
            running = self._upkeep.get(name)
            if running is not None and not running.done():
                await asyncio.wait([running])  # not gather: cancelling this must not cancel it
                continue
            if self._writes_total.get(name, 0) == seen:
                break
        if self._changed.get(name, 0) >= max(1, SETTLE_MIN_SHARE * self._rows.get(name, 0)):
            task = self._upkeep[name] = asyncio.get_running_loop().create_task(
                self._keep_up(name, table, force=True)
            )
            await asyncio.wait([task])

    async def optimize(self, name: str) -> None:
        """Do the collection's upkeep now: compact it and, at its size, (re)build its indexes."""
        table = await self._table(name)
        if table is not None:
            await self.idle()
            await self._keep_up(name, table, force=True)

    async def _keep_up(self, name: str, table: Any, *, force: bool = False) -> None:
        """Compact the collection (LanceDB's ``optimize``, which also brings the full-text index up
        to date) and, when due, rebuild the vector index from scratch.

        LanceDB's incremental vector-index update makes searches several times slower than a fresh
        build, so an indexed collection is not optimised between rebuilds: its newest rows (up to
        half, in a long ingest) are searched exhaustively until the next one, or until writes stop
        for ``settle_seconds``.
        """
        try:
            rebuild = self._wants_index(name) or (force and self._rows.get(name, 0) >= self.index_min_rows)
            async with self._lock(name):
                if self._tables.get(name) is not table:
                    return  # dropped
                self._writes[name] = 0
                self._changed[name] = 0
                await self._run(table.optimize)
            if rebuild:
                # Not under the write lock: building takes seconds; rows written meanwhile are
                # searched exhaustively until the next rebuild.
                async with self._building.setdefault(name, asyncio.Lock()):
                    if self._tables.get(name) is not table:
                        return
                    rows = self._rows[name]
                    await self._run(build_vector_index, table, rows)
                self._vector_indexed[name] = True
                self._indexed_rows[name] = rows
                log.info("collection %s: vector index built over %d rows", name, rows)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - upkeep is retried after the next writes
            log.warning("collection %s: background upkeep failed: %s", name, error)

    # -- collections ---------------------------------------------------------------------------------

    async def create_collection(self, name: str, dimension: int, embedding: str) -> CollectionInfo:
        check_collection_name(name)
        async with self._lock(name):
            existing = await self.collection_info(name)
            if existing is None:
                db = await self._connect()
                self._tables[name] = await self._run(
                    db.create_table, name, schema=collection_schema(dimension, embedding), exist_ok=True
                )
                self._rows[name], self._vector_indexed[name], self._text_indexed[name] = 0, False, False
                existing = await self.collection_info(name)
                assert existing is not None
        if (existing.dimension, existing.embedding) != (dimension, embedding):
            raise CollectionMismatch(
                name, f"{existing.embedding}, {existing.dimension} dims", f"{embedding}, {dimension} dims"
            )
        return existing

    async def collection_info(self, name: str) -> CollectionInfo | None:
        table = await self._table(name)
        if table is None:
            return None
        recorded = self._recorded.get(name)
        if recorded is None:
            schema = await self._run(lambda: table.schema)
            metadata = schema.metadata or {}
            dimension = int(metadata.get(DIMENSION_KEY, b"0")) or schema.field("vector").type.list_size
            recorded = self._recorded[name] = (dimension, metadata.get(EMBEDDING_KEY, b"").decode())
        # The count kept since the table was opened (this process's writes): every search asks for
        # the record, and the exact count would cost a call into LanceDB each time.
        return CollectionInfo(name, recorded[0], recorded[1], self._rows.get(name, 0))

    async def list_collections(self) -> list[str]:
        return sorted(await self._run(table_names, await self._connect()))

    async def drop_collection(self, name: str) -> None:
        """Drop the collection once the writes and upkeep at work on it are done (one committed
        after the drop would land in a table created again under the name, pointing at files that
        are gone). Upkeep is never cancelled (a call into LanceDB cannot be): it stops after its step."""
        check_collection_name(name)
        async with self._lock(name):
            dropping = self._dropping[name] = asyncio.Event()
            self._forget(name)
            self._upkeep.pop(name, None)
            if (settling := self._settling.pop(name, None)) is not None:
                settling.cancel()  # it sleeps, or waits on the upkeep without cancelling it
            try:
                async with self._building.setdefault(name, asyncio.Lock()):
                    db = await self._connect()
                    if name in await self._run(table_names, db):
                        await self._run(db.drop_table, name)
                    # LanceDB's session caches a table's metadata by path, which a table created
                    # again under the name shares: the next call opens a new connection.
                    self._db = None
            finally:
                self._forget(name)
                del self._dropping[name]
                dropping.set()

    async def _after_drop(self, name: str) -> None:
        """Wait for the drop of the collection under way in this process, if any."""
        dropping = self._dropping.get(name)
        if dropping is not None:
            await dropping.wait()

    def _forget(self, name: str) -> None:
        """Let go of the collection's handle and counters; the next call opens it again."""
        self._generation[name] = self._generation.get(name, 0) + 1
        self._tables.pop(name, None)
        for counters in (
            self._rows,
            self._vector_indexed,
            self._indexed_rows,
            self._text_indexed,
            self._writes,
            self._writes_total,
            self._changed,
            self._recorded,
        ):
            counters.pop(name, None)

    async def _read(self, name: str, read: Callable[[Any], Any], empty: Any) -> Any:
        """``read(table)`` in a worker thread; ``empty`` when there is no such collection.

        A read whose table was dropped under it (here or by another worker, perhaps created again)
        fails on files that are gone: it is tried once more on a fresh handle.
        """
        for attempt in (1, 2):
            table = await self._table(name)
            if table is None:
                return empty
            generation = self._generation.get(name, 0)
            try:
                return await self._run(read, table)
            except VectorStoreError as error:
                dropped = self._generation.get(name, 0) != generation
                if attempt == 2 or not (dropped or "not found" in str(error).lower()):
                    raise
                if not dropped:  # another worker's drop: this process's session cache is stale too
                    self._forget(name)
                    self._db = None
                await self._after_drop(name)
                log.info("collection %s: read again after its table changed under it", name)
        raise AssertionError("unreachable")

    # -- records -------------------------------------------------------------------------------------

    async def upsert(self, collection: str, records: Sequence[VectorRecord]) -> None:
        await self._write(collection, records, replace=True)

    async def insert(self, collection: str, records: Sequence[VectorRecord]) -> None:
        """Add records whose ids the collection does not hold yet (cheaper than :meth:`upsert`,
        which must look every id up)."""
        await self._write(collection, records, replace=False)

    async def _write(self, collection: str, records: Sequence[VectorRecord], *, replace: bool) -> None:
        if not records:
            return
        async with self._lock(collection):  # the handle too: a drop waits for the write
            table = await self._table(collection)
            if table is None:
                raise ValueError(f"no collection {collection!r}: create it first")
            before = self._rows.get(collection, 0)
            rows = await self._run(self._write_records, table, records, replace)
        self._wrote(collection, table, (rows - before) if rows is not None else len(records))

    @staticmethod
    def _write_records(table: Any, records: Sequence[VectorRecord], replace: bool) -> int | None:
        """Write the records; return the new row count when it had to be read (a replacing write)."""
        batch = records_table(table.schema, records)
        if not replace:
            table.add(batch)
            return None
        table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(batch)
        return table.count_rows()

    async def delete(self, collection: str, where: Filter) -> int:
        predicate = where_sql(where)
        if predicate is None:
            raise ValueError("delete needs a filter (drop the collection to empty it)")
        async with self._lock(collection):
            table = await self._table(collection)
            if table is None:
                return 0
            result = await self._run(table.delete, predicate)
        deleted = int(getattr(result, "num_deleted_rows", 0) or 0)
        if deleted:
            self._wrote(collection, table, -deleted)
        return deleted

    async def get(
        self,
        collection: str,
        where: Filter | None = None,
        *,
        limit: int | None = None,
        with_vectors: bool = False,
    ) -> list[VectorRecord]:
        predicate = where_sql(where)
        rows = await self._read(
            collection, lambda table: read_rows(table, predicate, limit, with_vectors), []
        )
        rows.sort(key=lambda row: (row.get("position") is None, row.get("position") or 0))
        return [
            VectorRecord(
                row["id"],
                row["text"],
                list(row.get("vector") or []) if with_vectors else [],
                row_metadata(row),
            )
            for row in rows
        ]

    async def count(self, collection: str, where: Filter | None = None) -> int:
        predicate = where_sql(where)
        return int(await self._read(collection, lambda table: table.count_rows(predicate), 0))

    # -- search --------------------------------------------------------------------------------------

    async def query(
        self, collection: str, vector: Sequence[float], k: int, where: Filter | None = None
    ) -> list[VectorHit]:
        predicate = where_sql(where)
        if k <= 0:
            return []

        def search(table: Any) -> list[dict[str, Any]]:
            nprobes = NPROBES if self._vector_indexed.get(collection) else None
            return vector_rows(table, vector, k, predicate, nprobes)

        rows = await self._read(collection, search, [])
        return [
            VectorHit(
                row["id"],
                row["text"],
                row_metadata(row),
                1.0 - float(row["_distance"]) / 2.0,
                float(row["_distance"]),
            )
            for row in rows
        ]

    async def text_query(
        self, collection: str, text: str, k: int, where: Filter | None = None
    ) -> list[VectorHit]:
        predicate = where_sql(where)
        if k <= 0 or not text.strip():
            return []
        if not self._text_indexed.get(collection):
            await self._ensure_text_index(collection)
        rows = await self._read(collection, lambda table: text_rows(table, text, k, predicate), [])
        return [VectorHit(row["id"], row["text"], row_metadata(row), float(row["_score"])) for row in rows]

    async def _ensure_text_index(self, collection: str) -> None:
        """Build the full-text index on the first text search (collections never searched by text
        do without). Later rows are added to it by the collection's upkeep; until then they are
        searched without it."""
        async with self._lock(collection):
            table = await self._table(collection)
            if table is None or self._text_indexed.get(collection):
                return
            await self._run(build_text_index, table)
            self._text_indexed[collection] = True

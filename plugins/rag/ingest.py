"""Ingestion: text and files into chunks into vectors, with status, progress and no repeated work.

A file's chunks go to the collection ``file-<file id>``, and are copied (vectors included, nothing
embedded twice) into the collection of every knowledge base the file is in. The file's Open WebUI
``data`` records the way: ``status`` goes ``pending`` -> ``processing`` -> ``completed`` or ``failed``
(with ``error``); ``progress`` says how many chunks of how many are stored while it runs; ``content``
keeps the extracted text and ``hash`` its SHA-256.

Re-ingesting does no work when nothing changed: a file whose bytes were already indexed into its
collection is skipped without being read, and a text whose hash a collection already holds is
skipped before anything is embedded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from colonnade.errors import ApiError
from colonnade.plugins.rag.chunking import split_text
from colonnade.plugins.rag.embedding import EmbeddingError
from colonnade.plugins.rag.extract import ExtractionError, Section, extract
from colonnade.plugins.rag.service import content_hash
from colonnade.plugins.rag.vectors import CollectionMismatch, VectorStoreError

if TYPE_CHECKING:
    from colonnade.plugins.rag.service import RagService

log = logging.getLogger("colonnade.rag")

#: Chunks embedded and stored per step (progress is reported after each).
STEP = 256
EMPTY_CONTENT = (
    "The content provided is empty. Please ensure that there is text or data present before proceeding."
)
Progress = Callable[[int, int], Awaitable[None]]


@dataclass
class Ingested:
    """What one ingest did."""

    collection: str
    chunks: int
    hash: str
    #: True when the content was already there and nothing was done.
    skipped: bool = False


def file_collection(file_id: str) -> str:
    return f"file-{file_id}"


class Ingestor:
    """Runs ingests for one application (``host.state("rag").ingestor``).

    :param service: The application's :class:`~colonnade.plugins.rag.service.RagService`.
    """

    def __init__(self, service: RagService) -> None:
        self.service = service
        self.config = service.config
        self.host = service.host
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @asynccontextmanager
    async def _lock(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of one document (or file); forgotten once nobody holds or awaits it."""
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    # -- text ----------------------------------------------------------------------------------------

    def chunks(self, sections: list[Section]) -> list[tuple[str, dict[str, Any]]]:
        """``(text, metadata)`` per chunk, numbered by ``position`` across sections."""
        found = []
        for text, extra in sections:
            for chunk in split_text(
                text,
                self.config.chunk_size,
                self.config.chunk_overlap,
                markdown_headers=self.config.markdown_header_splitter,
            ):
                found.append(
                    (chunk.text, {**extra, "start_index": chunk.start_index, "position": len(found)})
                )
        return found

    async def ingest(
        self,
        collection: str,
        sections: list[Section],
        metadata: dict[str, Any],
        *,
        id_prefix: str | None = None,
        progress: Progress | None = None,
    ) -> Ingested:
        """Chunk, embed and store one document's sections into ``collection``.

        :param metadata: Stored with every chunk (``name``, ``source``, ``file_id``, ``owner_id``...).
        :param id_prefix: Chunk ids are ``<prefix>-<position>``; default: a hash of the owner and
            the document. A document with a ``file_id`` replaces that file's older chunks in the
            collection.
        :raises ApiError: 400 for empty content.
        """
        whole = "\n\n".join(text for text, _ in sections)
        if not whole.strip():
            raise ApiError(400, EMPTY_CONTENT)
        digest = content_hash(whole)
        prefix = id_prefix or content_hash(f"{metadata.get('owner_id', '')}:{digest}")[:32]
        document = f"file:{metadata['file_id']}" if metadata.get("file_id") else prefix
        # One document at a time (so a repeated ingest is skipped, not doubled); other documents of
        # the collection go on meanwhile: the store serialises the writes themselves.
        async with self._lock(f"{collection}:{document}"):
            await self.service.collection(collection, create=True)
            # The same text from another file or another owner is another document.
            same = {"hash": digest}
            for key in ("file_id", "owner_id"):
                if metadata.get(key):
                    same[key] = metadata[key]
            if await self.service.store.count(collection, same):
                return Ingested(collection, 0, digest, skipped=True)
            if metadata.get("file_id"):
                await self.service.store.delete(collection, {"file_id": metadata["file_id"]})
            chunks = self.chunks(sections)
            for start in range(0, len(chunks), STEP):
                step = chunks[start : start + STEP]
                vectors = await self.service.embedder.embed([text for text, _ in step])
                items = [
                    (f"{prefix}-{extra['position']}", text, {**metadata, **extra, "hash": digest})
                    for text, extra in step
                ]
                await self.service.store_vectors(collection, items, vectors, new=True)
                if progress is not None:
                    await progress(start + len(step), len(chunks))
        return Ingested(collection, len(chunks), digest)

    # -- files ---------------------------------------------------------------------------------------

    async def ingest_file(self, record: Any, *, force: bool = False, content: str | None = None) -> Ingested:
        """Index one file of the files plugin into ``file-<id>``, then into its knowledge bases.

        :param record: The ``files`` plugin's ``File`` row.
        :param force: Read and compare the content even when these bytes were indexed already.
        :param content: Use this text instead of extracting it from the file (Open WebUI's
            ``process/file`` with ``content``).
        :raises ApiError: the reason the file failed (also recorded on the file).
        """

        collection = file_collection(record.id)
        async with self._lock(f"file:{record.id}"):
            await record.refresh_from_db()
            data = dict(record.data or {})
            done_before = (
                data.get("status") == "completed"
                and data.get("indexed") == f"{record.sha256}:{self.service.embedder.key}"
                and content is None
                and not force
                and await self.service.store.count(collection, {"file_id": record.id})
            )
            if done_before:
                result = Ingested(collection, 0, record.hash or "", skipped=True)
            else:
                result = await self._index_file(record, collection, content)
        await self.copy_to_knowledge_bases(record)
        return result

    async def _index_file(self, record: Any, collection: str, content: str | None) -> Ingested:
        await self.set_file_data(record, status="processing", error=None)
        try:
            if content is None:
                raw = await self.read_file(record)
                sections = await asyncio.to_thread(extract, raw, record.filename, record.content_type)
            else:
                sections = [(content, {})]
            text = "\n\n".join(section for section, _ in sections)
            if not text.strip():
                raise ExtractionError("no text could be extracted from the file")
            metadata = {
                "file_id": record.id,
                "owner_id": record.user_id,
                "created_by": record.user_id,
                "name": record.filename,
                "source": record.filename,
            }

            async def progress(done: int, total: int) -> None:
                await self.set_file_data(record, progress={"done": done, "total": total})

            result = await self.ingest(collection, sections, metadata, id_prefix=record.id, progress=progress)
        except (ExtractionError, EmbeddingError, CollectionMismatch, VectorStoreError, ApiError) as error:
            reason = _reason(error)
            await self.set_file_data(record, status="failed", error=reason)
            raise _as_error(error, reason) from None
        await self.set_file_data(
            record,
            status="completed",
            error=None,
            content=text,
            collection_name=collection,
            indexed=f"{record.sha256}:{self.service.embedder.key}",
            hash=result.hash,
        )
        return result

    async def read_file(self, record: Any) -> bytes:
        """The file's bytes from its store, refused above ``max_extract_size``."""
        files = getattr(self.host.state("files"), "service", None)
        store = files.store_for(record) if files is not None else None
        if store is None:
            raise ExtractionError("the file's bytes are unavailable")
        if record.size > self.config.max_extract_size:
            raise ExtractionError(f"the file is larger than {self.config.max_extract_size} bytes")
        parts = bytearray()
        async for chunk in store.open(record.storage_key):
            parts += chunk
        return bytes(parts)

    async def set_file_data(self, record: Any, hash: str | None = None, **changes: Any) -> None:
        """Merge ``changes`` into the file's ``data`` (a ``None`` value removes the key) and save."""
        from colonnade.plugins.files.models import File, now

        data = dict(record.data or {})
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        if changes.get("status") in ("completed", "failed"):
            data.pop("progress", None)
        record.data = data
        update: dict[str, Any] = {"data": data, "updated_at": now()}
        if hash is not None:
            record.hash = update["hash"] = hash
        await File.filter(id=record.id).update(**update)

    async def copy_to_knowledge_bases(self, record: Any, knowledge_ids: list[str] | None = None) -> None:
        """Copy the file's chunks into each knowledge base it is in (or the given ones)."""
        from colonnade.plugins.rag.models import KnowledgeFile

        if knowledge_ids is None:
            knowledge_ids = [
                str(kid)
                for kid in await KnowledgeFile.filter(file_id=record.id).values_list(
                    "knowledge_id", flat=True
                )
            ]
        if not knowledge_ids:
            return
        records = await self.service.store.get(
            file_collection(record.id), {"file_id": record.id}, with_vectors=True
        )
        for knowledge_id in knowledge_ids:
            async with self._lock(f"{knowledge_id}:file:{record.id}"):
                await self.service.collection(knowledge_id, create=True)
                digest = records[0].metadata.get("hash") if records else None
                if digest and await self.service.store.count(
                    knowledge_id, {"file_id": record.id, "hash": digest}
                ) == len(records):
                    continue
                await self.service.store.delete(knowledge_id, {"file_id": record.id})
                for item in records:
                    item.metadata["knowledge_id"] = knowledge_id
                write = getattr(self.service.store, "insert", None) or self.service.store.upsert
                for start in range(0, len(records), STEP):
                    await write(knowledge_id, records[start : start + STEP])

    # -- background work -----------------------------------------------------------------------------

    def schedule_file(self, record: Any) -> asyncio.Task[Any]:
        """Index ``record`` in the background (its status says how it went)."""

        async def run() -> None:
            try:
                await self.ingest_file(record)
            except ApiError as error:
                log.info("file %s was not indexed: %s", record.id, error.detail)
            except Exception:
                log.exception("indexing file %s failed", record.id)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait for every background ingest started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _reason(error: Exception) -> str:
    if isinstance(error, ApiError):
        return error.detail
    if isinstance(error, EmbeddingError):
        return f"Embedding failed: {error.detail}"
    if isinstance(error, VectorStoreError):
        log.error("vector store failed: %s", error)
        return "The vector store failed; try again later"
    return str(error)


def _as_error(error: Exception, reason: str) -> ApiError:
    if isinstance(error, ApiError):
        return error
    if isinstance(error, EmbeddingError):
        return ApiError(error.status, reason)
    if isinstance(error, CollectionMismatch):
        return ApiError(409, reason)
    if isinstance(error, VectorStoreError):
        return ApiError(502, reason)
    return ApiError(400, reason)

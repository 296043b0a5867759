"""What the routes do: receive an upload, find a caller's file, delete one, describe one.

The order of writes is what keeps storage consistent: bytes first (atomically, under a generated key),
then the record; on any failure after the bytes were started, they are deleted. Deleting goes the other
way: the record first, then the bytes. So a record never points at missing bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from werkzeug.http import parse_options_header

from colonnade.actors import Actor
from colonnade.errors import ApiError, load_storable_json
from colonnade.plugins.files.events import FileDeleted, FileUploaded
from colonnade.plugins.files.models import File, new_id
from colonnade.plugins.files.multipart import MalformedMultipart, MultipartReader
from colonnade.plugins.files.naming import resolve_content_type, sanitise_filename, type_allowed
from colonnade.plugins.files.stores import FileStore, StoreError
from colonnade.plugins.files.streaming import RAW_BODY_KEY, BodyStalled, ClientDisconnected

log = logging.getLogger("colonnade.files")

NOT_FOUND = "We could not find what you're looking for :/"
UNAVAILABLE = "Original file is unavailable."
#: Room for the other form parts and the multipart framing when checking ``Content-Length`` up front.
ENVELOPE = 256 * 1024
MAX_METADATA = 64 * 1024


class UploadTooLarge(Exception):
    pass


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "Oops! The file you're trying to upload is too large. "
        f"Please upload a file that is less than {human_size(limit)}.",
    )


def human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.4g} {unit}"
        size /= 1024
    return f"{size} GB"  # pragma: no cover


def storage_key(file_id: str) -> str:
    """Generated, never derived from the user's file name; two levels keep directories small."""
    return f"{file_id[:2]}/{file_id}"


class FileService:
    """The files plugin's per-application state: its configuration and its stores.

    :param host: The application host.
    :param stores: Every registered store, by name.
    :param store: The one new uploads go to.
    """

    def __init__(self, host: Any, stores: Any, store: FileStore) -> None:
        self.host = host
        self.config = host.plugin_config("files")
        self.stores = stores
        self.store = store

    # -- upload ----------------------------------------------------------------------------------------

    async def upload(self, actor: Actor, request: Any) -> File:
        """Stream the ``file`` part of a multipart request into the store and record it."""
        mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
        if mimetype != "multipart/form-data":
            raise ApiError(415, "Send the file as multipart/form-data, in a part named 'file'")
        boundary = options.get("boundary", "")
        if not 1 <= len(boundary) <= 70:
            raise ApiError(400, "Malformed multipart body: the Content-Type has no valid boundary")
        limit = self.config.max_size
        if request.content_length is not None and request.content_length > limit + ENVELOPE:
            raise too_large(limit)
        reader = MultipartReader(self._body(request), boundary.encode("latin-1"))
        file_id = new_id()
        key = storage_key(file_id)
        started = False
        try:
            stored: dict[str, Any] | None = None
            metadata: dict[str, Any] | None = None
            async for part in reader.parts():
                # An empty filename is what a browser sends for a file input left empty.
                if part.name == "file" and part.filename and stored is None:
                    filename = sanitise_filename(part.filename)
                    content_type = resolve_content_type(part.headers.get("Content-Type"), filename)
                    if not type_allowed(content_type, self.config.allowed_content_types):
                        raise ApiError(415, f"File type {content_type} is not allowed")
                    digest = hashlib.sha256()
                    started = True
                    size = await self.store.put(
                        key, _counted(part.chunks(), digest, limit), content_type=content_type
                    )
                    stored = {"filename": filename, "content_type": content_type, "size": size}
                    stored["sha256"] = digest.hexdigest()
                elif part.name == "metadata" and part.filename is None:
                    metadata = parse_metadata(await part.read(MAX_METADATA))
            if stored is None:
                raise ApiError(400, "No file: send it in a multipart part named 'file' with a filename")
            record = await File.create(
                id=file_id,
                user_id=actor.id,
                store=self.store.name,
                storage_key=key,
                client_meta=metadata,
                data={},
                **stored,
            )
        except BaseException as error:
            if started:
                await _shielded_delete(self.store, key)
            if isinstance(error, _EXPECTED):
                raise _as_api_error(error, limit) from None
            raise
        await self.host.emit(
            FileUploaded(
                actor=actor,
                file_id=record.id,
                user_id=record.user_id,
                filename=record.filename,
                content_type=record.content_type,
                size=record.size,
            )
        )
        return record

    def _body(self, request: Any) -> AsyncIterator[bytes]:
        raw = request.scope.get(RAW_BODY_KEY)
        if raw is not None:
            return raw.chunks(self.config.idle_timeout)
        return request.body.__aiter__()  # mounted without the middleware: Quart's buffered body

    # -- reading and deleting --------------------------------------------------------------------------

    async def visible_file(self, actor: Actor, file_id: str) -> File:
        """The file, if the caller owns it or may manage every file; otherwise 404 (never 403)."""
        record = await File.get_or_none(id=file_id) if len(file_id) <= 36 else None
        if record is None:
            raise ApiError(404, NOT_FOUND)
        if record.user_id != actor.id and not await self.host.check_permission(actor, "files.manage"):
            raise ApiError(404, NOT_FOUND)
        return record

    def store_for(self, record: File) -> FileStore | None:
        # Not .get(): NamedRegistry.get raises on an unknown name, and here unknown means "gone".
        return self.stores[record.store] if record.store in self.stores else None  # noqa: SIM401

    async def delete(self, actor: Actor | None, record: File) -> bool:
        """Delete the record, then its bytes (a failure there leaves unreachable bytes, logged).

        :return: ``False`` when the record was already gone: of two concurrent deletes of one file,
            only the one that removed the row deletes the bytes and emits the event.
        """
        if not await File.filter(id=record.id).delete():
            return False
        store = self.store_for(record)
        if store is not None:
            try:
                await store.delete(record.storage_key)
            except StoreError as error:
                log.error("file %s: record deleted but its bytes were not: %s", record.id, error)
        await self.host.emit(FileDeleted(actor=actor, file_id=record.id, user_id=record.user_id))
        return True

    async def delete_all_of(self, user_id: str) -> None:
        for record in await File.filter(user_id=user_id):
            await self.delete(None, record)


_EXPECTED = (MalformedMultipart, UploadTooLarge, ClientDisconnected, BodyStalled, StoreError)


def _as_api_error(error: BaseException, limit: int) -> ApiError:
    if isinstance(error, MalformedMultipart):
        return ApiError(400, str(error))
    if isinstance(error, UploadTooLarge):
        return too_large(limit)
    if isinstance(error, ClientDisconnected):
        return ApiError(400, "The upload was interrupted")
    if isinstance(error, BodyStalled):
        return ApiError(408, "The upload stalled: no data arrived in time")
    log.error("file store failed during an upload: %s", error)
    return ApiError(502, "The file store failed; try again later")


async def _counted(chunks: AsyncIterator[bytes], digest: Any, limit: int) -> AsyncIterator[bytes]:
    """Pass ``chunks`` through, hashing them and stopping at ``limit`` bytes."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise UploadTooLarge()
        digest.update(chunk)
        yield chunk


async def _shielded_delete(store: FileStore, key: str) -> None:
    """Delete ``key``, even while the upload task is being cancelled; a failure is logged only."""
    try:
        await asyncio.shield(store.delete(key))
    except BaseException as error:  # noqa: BLE001 - the upload's own error is the one to report
        log.error("could not delete the bytes of a failed upload (%s): %r", key, error)


def parse_metadata(raw: bytes) -> dict[str, Any] | None:
    """The ``metadata`` form part: a JSON object (or ``null``); anything else is a 400."""
    try:
        # It refuses what the JSON column could not store too (a NUL character, an integer beyond 64 bits).
        value = load_storable_json(raw) if raw.strip() else None
    except ValueError:
        value = ...
    if value is not None and not isinstance(value, dict):
        raise ApiError(400, "[ERROR: Invalid metadata format]")
    return value


def file_json(record: File, *, content: bool = True, path: bool = True) -> dict[str, Any]:
    """Open WebUI's ``FileModel`` shape."""
    data = dict(record.data or {})
    if not content:
        data.pop("content", None)
    body: dict[str, Any] = {
        "id": record.id,
        "user_id": record.user_id,
        "hash": record.hash,
        "filename": record.filename,
        "data": data,
        "meta": {
            "name": record.filename,
            "content_type": record.content_type,
            "size": record.size,
            "file_hash": record.sha256,
            "data": record.client_meta or {},
        },
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }
    if path:
        body["path"] = f"{record.store}://{record.storage_key}"
    return body

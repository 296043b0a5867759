"""``s3``: uploaded bytes in a bucket of any S3-compatible service (AWS, MinIO, Ceph, R2, ...).

For deployments with several hosts or workers that do not share a disk. Requests are signed with SigV4
(:mod:`.sigv4`) and sent over the host's pooled ``httpx`` client, path-style (``<endpoint>/<bucket>/<key>``),
which every S3-compatible server accepts.

Uploads are streamed: bytes are gathered into parts of ``part_size`` (memory stays at about one part per
upload). An upload that fits in one part is a single ``PutObject``; a bigger one is a multipart upload,
which S3 makes visible only at ``CompleteMultipartUpload`` and which is aborted on any failure, so an
interrupted upload never leaves an object behind. (A crash of the whole process mid-upload can leave an
incomplete multipart upload on the server; a bucket lifecycle rule "abort incomplete multipart uploads
after 1 day" removes those.)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from colonnade.errors import StartupError
from colonnade.plugins.files.stores import StoreError, check_key
from colonnade.plugins.files.stores.sigv4 import EMPTY_SHA256, canonical_query, sign, uri_encode

if TYPE_CHECKING:
    from xml.etree import ElementTree

    import httpx

    from colonnade.plugins.files.config import S3Config

log = logging.getLogger("colonnade.files")

S3_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3Store:
    """Objects in one bucket, under ``key_prefix``.

    :param config: ``[plugins.files.s3]``.
    :param client: Returns the pooled HTTP client; called on first use so that building the store
        does no work when another store is selected.
    """

    name = "s3"

    def __init__(self, config: S3Config, client: Callable[[], httpx.AsyncClient]) -> None:
        self.config = config
        self._client = client

    async def start(self) -> None:
        missing = [
            field
            for field in ("endpoint_url", "bucket", "access_key_id", "secret_access_key")
            if not getattr(self.config, field)
        ]
        if missing:
            raise StartupError(
                f'[plugins.files] store = "s3" needs plugins.files.s3.{missing[0]}'
                + (f" (and {', '.join(missing[1:])})" if missing[1:] else "")
            )

    # -- the FileStore protocol ----------------------------------------------------------------------

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> int:
        part_size = self.config.part_size
        buffer = bytearray()
        upload_id: str | None = None
        etags: list[str] = []
        total = 0
        try:
            async for chunk in chunks:
                buffer += chunk
                while len(buffer) >= part_size:
                    if upload_id is None:
                        upload_id = await self._create_multipart(key, content_type)
                    part = bytes(buffer[:part_size])
                    del buffer[:part_size]
                    etags.append(await self._upload_part(key, upload_id, len(etags) + 1, part))
                    total += len(part)
            if upload_id is None:
                await self._send("PUT", key, body=bytes(buffer), headers={"content-type": content_type})
            else:
                if buffer:
                    etags.append(await self._upload_part(key, upload_id, len(etags) + 1, bytes(buffer)))
                await self._complete_multipart(key, upload_id, etags)
            total += len(buffer)
        except BaseException:
            if upload_id is not None:
                # Shielded: when the upload task is being cancelled the abort must still reach S3.
                await _quietly(asyncio.shield(self._abort_multipart(key, upload_id)))
            raise
        return total

    async def open(self, key: str, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        headers = {}
        if start or stop is not None:
            headers["range"] = f"bytes={start}-{'' if stop is None else stop - 1}"
        request = self._build("GET", key, headers=headers)
        try:
            response = await self._client().send(request, stream=True)
        except Exception as error:
            raise StoreError(f"s3 store: GET failed: {error}") from error
        try:
            if response.status_code == 404:
                return
            if response.status_code not in (200, 206):
                await response.aread()
                raise StoreError(
                    f"s3 store: GET answered {response.status_code} {_error_code(response.content)}"
                )
            async for data in response.aiter_bytes():
                yield data
        finally:
            await response.aclose()

    async def delete(self, key: str) -> None:
        await self._send("DELETE", key, accept=(200, 204, 404))

    async def size(self, key: str) -> int | None:
        response = await self._send("HEAD", key, accept=(200, 404))
        if response.status_code == 404:
            return None
        return int(response.headers.get("content-length", 0))

    # -- S3 operations ---------------------------------------------------------------------------------

    async def _create_multipart(self, key: str, content_type: str) -> str:
        response = await self._send(
            "POST", key, params={"uploads": ""}, headers={"content-type": content_type}
        )
        upload_id = _xml_text(response.content, "UploadId")
        if not upload_id:
            raise StoreError("s3 store: CreateMultipartUpload answered without an UploadId")
        return upload_id

    async def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        response = await self._send(
            "PUT", key, params={"partNumber": str(number), "uploadId": upload_id}, body=data
        )
        etag = response.headers.get("etag")
        if not etag:
            raise StoreError("s3 store: UploadPart answered without an ETag")
        return etag

    async def _complete_multipart(self, key: str, upload_id: str, etags: list[str]) -> None:
        parts = "".join(
            f"<Part><PartNumber>{number}</PartNumber><ETag>{_xml_escape(etag)}</ETag></Part>"
            for number, etag in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        response = await self._send("POST", key, params={"uploadId": upload_id}, body=body)
        # S3 may answer 200 and still report a failure in the body.
        if _xml_root_tag(response.content) == "Error":
            raise StoreError(f"s3 store: CompleteMultipartUpload failed: {_error_code(response.content)}")

    async def _abort_multipart(self, key: str, upload_id: str) -> None:
        await self._send("DELETE", key, params={"uploadId": upload_id}, accept=(200, 204, 404))

    # -- signing and sending ---------------------------------------------------------------------------

    def _build(
        self,
        method: str,
        key: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        payload_sha256: str | None = None,
    ) -> httpx.Request:
        import httpx

        config = self.config
        base = httpx.URL(config.endpoint_url or "")
        host = base.host + (f":{base.port}" if base.port else "")
        path = f"{base.path.rstrip('/')}/{uri_encode(config.bucket or '', keep_slash=False)}/" + uri_encode(
            config.key_prefix + check_key(key), keep_slash=True
        )
        params = params or {}
        signed = sign(
            method,
            host,
            path,
            params,
            headers or {},
            payload_sha256=payload_sha256 or (hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256),
            access_key=_secret(config.access_key_id),
            secret_key=_secret(config.secret_access_key),
            region=config.region,
            when=datetime.now(UTC),
            session_token=_secret(config.session_token) or None,
        )
        query = canonical_query(params)
        url = base.copy_with(raw_path=(path + (f"?{query}" if query else "")).encode())
        return httpx.Request(method, url, headers={"host": host, **signed}, content=body)

    async def _send(
        self,
        method: str,
        key: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        accept: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        # Hashing a part (megabytes) in a thread keeps the event loop responsive; hashlib releases the GIL.
        digest = (
            await asyncio.to_thread(lambda: hashlib.sha256(body).hexdigest()) if len(body) > 65536 else None
        )
        request = self._build(method, key, params=params, headers=headers, body=body, payload_sha256=digest)
        try:
            response = await self._client().send(request)
        except Exception as error:
            raise StoreError(f"s3 store: {method} failed: {type(error).__name__}: {error}") from error
        if response.status_code not in accept:
            raise StoreError(
                f"s3 store: {method} answered {response.status_code} {_error_code(response.content)}"
            )
        return response


def _secret(value: Any) -> str:
    if value is None:
        return ""
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _parse(content: bytes) -> ElementTree.Element | None:
    from xml.etree import ElementTree  # on first use: most servers never talk to S3

    try:
        return ElementTree.fromstring(content)
    except ElementTree.ParseError:
        return None


def _xml_root_tag(content: bytes) -> str | None:
    root = _parse(content) if content else None
    return None if root is None else root.tag.removeprefix(S3_NAMESPACE)


def _xml_text(content: bytes, tag: str) -> str | None:
    root = _parse(content)
    if root is None:
        return None
    for element in root.iter():
        if element.tag.removeprefix(S3_NAMESPACE) == tag:
            return element.text
    return None


def _error_code(content: bytes) -> str:
    return _xml_text(content, "Code") or "" if content else ""


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except BaseException as error:  # noqa: BLE001 - best-effort clean-up must not mask the real failure
        log.warning("s3 store: clean-up failed: %s", error)

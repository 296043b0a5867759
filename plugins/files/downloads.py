"""Download responses: the stored bytes streamed with type, disposition, length, ETag and ranges."""

from __future__ import annotations

from typing import Any

from colonnade.errors import ApiError, json_error
from colonnade.plugins.files.models import File
from colonnade.plugins.files.naming import content_disposition, shows_inline
from colonnade.plugins.files.ranges import Unsatisfiable, parse_range
from colonnade.plugins.files.service import UNAVAILABLE, FileService
from colonnade.plugins.files.stores import StoreError


async def download(service: FileService, record: File, request: Any, *, attachment: bool = False) -> Any:
    """The response for ``GET`` on a file: 200 (whole), 206 (one range) or 416.

    :param attachment: Always offer a download; otherwise types a browser can show safely are inline.
    """
    from quart import Response

    store = service.store_for(record)
    try:
        size = await store.size(record.storage_key) if store is not None else None
    except StoreError as error:
        raise ApiError(502, "The file store failed; try again later") from error
    if size is None:
        raise ApiError(404, UNAVAILABLE)
    etag = f'"{record.sha256}"'
    headers = {
        "Content-Type": record.content_type,
        "Content-Disposition": content_disposition(
            "inline" if not attachment and shows_inline(record.content_type) else "attachment",
            record.filename,
        ),
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        # Uploaded content is untrusted: never sniff it into something executable, and if a browser
        # renders it anyway, do so in a sandbox without scripts or same-origin access.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    wanted = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None  # the client's copy is stale: it gets the whole file
    try:
        span = parse_range(wanted, size)
    except Unsatisfiable:
        return json_error(416, "Range not satisfiable", {"Content-Range": f"bytes */{size}"})
    status, start, stop = 200, 0, size
    if span is not None:
        status, (start, stop) = 206, span
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    headers["Content-Length"] = str(stop - start)
    # HEAD gets the headers only: no need to read the bytes just to throw them away.
    reading = stop > start and request.method != "HEAD"
    body = store.open(record.storage_key, start, stop) if reading else _nothing()
    response = Response(body, status=status, headers=headers)
    response.timeout = None  # a big file on a slow link takes longer than Quart's default 60 s
    return response


async def _nothing():
    return
    yield  # pragma: no cover - makes this an (empty) async generator

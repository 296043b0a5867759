"""Uploads and downloads through a real HTTP server (hypercorn on loopback) and a real client (httpx).

The test client hands the application whole messages; here the body arrives as the network delivers it,
chunked, and the response goes back over a socket, which is what the streaming code is for.
"""

from __future__ import annotations

import hashlib
import tracemalloc

import httpx
import pytest
from files_helpers import BOUNDARY

pytestmark = pytest.mark.asyncio

MIB = 1024 * 1024


async def multipart_stream(filename: str, chunk: bytes, count: int):
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for _ in range(count):
        yield chunk
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_streamed_upload_and_ranged_download_over_http(files_app, auth_headers, serve_app):
    files = await files_app({"max_size": 256 * MIB})
    headers = await auth_headers(files.app)
    chunk = hashlib.sha512(b"chunk").digest() * 1024  # 64 KiB
    count = 48 * MIB // len(chunk)
    expected = hashlib.sha256(chunk * count).hexdigest()

    async with httpx.AsyncClient(base_url=await serve_app(files.app), timeout=60) as http:
        tracemalloc.start()
        try:
            response = await http.post(
                "/api/files",
                content=multipart_stream("big.bin", chunk, count),
                headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 201, response.text
        record = response.json()
        assert record["meta"]["size"] == 48 * MIB
        assert record["meta"]["file_hash"] == expected
        # The whole upload (client and server in this process) never held more than a few MiB.
        assert peak < 16 * MIB, f"peak traced memory {peak / MIB:.1f} MiB for a 48 MiB upload"

        digest = hashlib.sha256()
        async with http.stream("GET", f"/api/files/{record['id']}", headers=headers) as download:
            assert download.status_code == 200
            assert download.headers["content-length"] == str(48 * MIB)
            async for data in download.aiter_bytes():
                digest.update(data)
        assert digest.hexdigest() == expected

        ranged = await http.get(
            f"/api/v1/files/{record['id']}/content", headers={**headers, "Range": f"bytes={MIB}-{MIB + 99}"}
        )
        assert ranged.status_code == 206
        assert ranged.content == (chunk * 17)[MIB : MIB + 100]
        assert ranged.headers["content-range"] == f"bytes {MIB}-{MIB + 99}/{48 * MIB}"

        head = await http.head(f"/api/files/{record['id']}", headers=headers)
        assert (head.status_code, head.headers["content-length"], head.content) == (200, str(48 * MIB), b"")


async def test_too_large_over_http_is_413_and_leaves_nothing(files_app, auth_headers, serve_app):
    files = await files_app({"max_size": 2 * MIB})
    headers = await auth_headers(files.app)
    async with httpx.AsyncClient(base_url=await serve_app(files.app), timeout=60) as http:
        try:
            response = await http.post(
                "/api/files",
                content=multipart_stream("big.bin", b"x" * 65536, 64),
                headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            )
        except httpx.HTTPError:
            response = None  # the server may close the connection while the client is still sending
        if response is not None:
            assert response.status_code == 413
    assert await files.record_count() == 0
    assert files.stored_files() == []

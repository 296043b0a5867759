"""Upload limits and failures: 413, 415, sanitised names, malformed bodies, interrupted uploads.

After every refused or failed upload there must be no record and no bytes (not even a temporary file).
"""

from __future__ import annotations

import pytest

from colonnade.plugins.files.models import File

from files_helpers import BOUNDARY, multipart_body, multipart_headers

pytestmark = pytest.mark.asyncio


async def assert_nothing_kept(files) -> None:
    assert await files.record_count() == 0
    assert files.stored_files() == []


def file_head(filename: str = "big.bin", content_type: str = "application/octet-stream") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()


FILE_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


async def stream_upload(files, headers, chunks, *, complete=True, disconnect=False):
    """POST an upload whose body is sent chunk by chunk (no Content-Length), as a browser streams it."""
    async with files.client.request(
        "/api/files", method="POST", headers=multipart_headers(headers)
    ) as connection:
        for chunk in chunks:
            await connection.send(chunk)
        if disconnect:
            await connection.disconnect()
        elif complete:
            await connection.send_complete()
    return await connection.as_response()


# -- size --------------------------------------------------------------------------------------------


async def test_too_large_while_streaming_is_413(files_app, auth_headers):
    files = await files_app({"max_size": 100_000})
    headers = await auth_headers(files.app)
    chunks = [file_head(), *[b"x" * 30_000] * 5, FILE_TAIL]
    response = await stream_upload(files, headers, chunks)
    assert response.status_code == 413
    assert (await response.get_json())["detail"].startswith(
        "Oops! The file you're trying to upload is too large."
    )
    await assert_nothing_kept(files)


async def test_too_large_by_content_length_is_refused_before_reading(files_app, auth_headers):
    files = await files_app({"max_size": 1000})
    headers = await auth_headers(files.app)
    headers = {**multipart_headers(headers), "Content-Length": str(10 * 1024 * 1024)}
    async with files.client.request("/api/files", method="POST", headers=headers) as connection:
        pass  # nothing sent: the answer must not wait for the body
    response = await connection.as_response()
    assert response.status_code == 413
    await assert_nothing_kept(files)


async def test_exactly_the_limit_is_accepted(files_app, auth_headers):
    files = await files_app({"max_size": 5000})
    headers = await auth_headers(files.app)
    response = await files.upload(headers, b"y" * 5000)
    assert response.status_code == 201
    assert (await files.upload(headers, b"y" * 5001)).status_code == 413
    assert await files.record_count() == 1


async def test_uploads_may_exceed_the_server_wide_body_limit(files_app, auth_headers):
    # server.max_body_size is 16 MiB by default; the files plugin's own limit is what applies.
    files = await files_app({"max_size": 40 * 1024 * 1024})
    headers = await auth_headers(files.app)
    data = bytes(range(256)) * (20 * 1024 * 1024 // 256)
    body = multipart_body([("file", "big.bin", "application/octet-stream", data)])
    response = await files.client.post(
        "/api/files", data=body, headers={**multipart_headers(headers), "Content-Length": str(len(body))}
    )
    assert response.status_code == 201, await response.get_data()
    assert (await response.get_json())["meta"]["size"] == len(data)
    stored = files.stored_files()
    assert len(stored) == 1 and stored[0].stat().st_size == len(data)


# -- types -------------------------------------------------------------------------------------------


async def test_content_type_not_allowed_is_415(files_app, auth_headers):
    files = await files_app({"allowed_content_types": ["image/*", "application/pdf"]})
    headers = await auth_headers(files.app)
    refused = await files.upload(headers, b"text", filename="a.txt", content_type="text/plain")
    assert refused.status_code == 415
    assert await refused.get_json() == {"detail": "File type text/plain is not allowed"}
    # A generic declared type falls back to the extension, which is checked too.
    guessed = await files.upload(
        headers, b"<x/>", filename="page.html", content_type="application/octet-stream"
    )
    assert guessed.status_code == 415
    await assert_nothing_kept(files)
    assert (
        await files.upload(headers, b"\x89PNG", filename="a.png", content_type="image/png")
    ).status_code == 201
    assert (await files.upload(headers, b"%PDF", filename="a.pdf", content_type=None)).status_code == 201


async def test_non_multipart_request_is_415(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    response = await files.client.post("/api/files", json={"file": "x"}, headers=headers)
    assert response.status_code == 415
    assert "multipart/form-data" in (await response.get_json())["detail"]


async def test_malformed_content_types_are_not_echoed(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    record = await (
        await files.upload(headers, b"x", filename="a.bin", content_type='text/"html" <x>')
    ).get_json()
    assert record["meta"]["content_type"] == "application/octet-stream"


# -- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        # Backslashes are escaped inside the quoted filename (RFC 7578); unescaped, they are Windows paths.
        ("..\\\\..\\\\windows\\\\system.ini", "system.ini"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("..", "file"),
        ("a\x01b\x7fc.txt", "abc.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("  spaced name.txt  ", "spaced name.txt"),
        ("naïve café.txt", "naïve café.txt"),
        ("x" * 300 + ".txt", "x" * 251 + ".txt"),
    ],
)
async def test_file_names_are_sanitised(files_app, auth_headers, sent, stored):
    files = await files_app()
    headers = await auth_headers(files.app)
    response = await files.upload(headers, b"data", filename=sent)
    assert response.status_code == 201
    record = await response.get_json()
    assert record["filename"] == stored
    # Bytes live under the generated id, never under the name.
    assert files.stored_files() == [files.uploads_dir / record["id"][:2] / record["id"]]


async def test_download_names_are_encoded_for_headers(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    record = await (await files.upload(headers, b"x", filename='résumé \\"final\\"%.txt')).get_json()
    response = await files.client.get(f"/api/files/{record['id']}", headers=headers)
    assert response.headers["Content-Disposition"] == (
        "inline; filename=\"r_sum_ _final__.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%25.txt"
    )


# -- malformed bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"this is not multipart at all",
        file_head() + b"the body stops before the closing boundary",
        f"--{BOUNDARY}\r\nX-No-Disposition: 1\r\n\r\ndata\r\n--{BOUNDARY}--\r\n".encode(),
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n'.encode()
        + b"X" * 300_000,  # headers that never end
        b"",
    ],
    ids=["no-boundary", "truncated", "no-disposition", "endless-headers", "empty"],
)
async def test_malformed_multipart_is_400(files_app, auth_headers, body):
    files = await files_app()
    headers = await auth_headers(files.app)
    response = await files.client.post("/api/files", data=body, headers=multipart_headers(headers))
    assert response.status_code == 400
    assert (await response.get_json())["detail"].startswith("Malformed multipart body")
    await assert_nothing_kept(files)


async def test_missing_boundary_parameter_is_400(files_app, auth_headers):
    files = await files_app()
    headers = {**(await auth_headers(files.app)), "Content-Type": "multipart/form-data"}
    response = await files.client.post("/api/files", data=b"--x--", headers=headers)
    assert response.status_code == 400


async def test_a_form_without_a_file_is_400(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    for parts in (
        [("metadata", None, None, b"{}")],
        [("file", None, None, b"not a file: no filename")],
        [("file", "", "application/octet-stream", b"")],  # a file input left empty
    ):
        response = await files.client.post(
            "/api/files", data=multipart_body(parts), headers=multipart_headers(headers)
        )
        assert response.status_code == 400
        assert "part named 'file'" in (await response.get_json())["detail"]
    await assert_nothing_kept(files)


async def test_too_many_parts_is_400(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    parts = [(f"field{number}", None, None, b"v") for number in range(40)]
    response = await files.client.post(
        "/api/files", data=multipart_body(parts), headers=multipart_headers(headers)
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "metadata",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"{" + b" " * 70_000 + b"}",
        # What the JSON column cannot store used to be a 500: NUL (PostgreSQL), a lone surrogate, an
        # integer beyond 64 bits, a nesting past orjson's 255 levels or the decoder's recursion limit.
        b'{"a": "\\u0000"}',
        b'{"a": "\\ud800"}',
        b'{"a": 123456789012345678901234567890}',
        b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}",
        b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
async def test_invalid_metadata_is_400_and_the_file_is_not_kept(files_app, auth_headers, metadata):
    files = await files_app()
    headers = await auth_headers(files.app)
    body = multipart_body([("file", "a.txt", "text/plain", b"data"), ("metadata", None, None, metadata)])
    response = await files.client.post("/api/files", data=body, headers=multipart_headers(headers))
    assert response.status_code == 400
    await assert_nothing_kept(files)


# -- interrupted uploads -----------------------------------------------------------------------------


async def test_client_that_goes_away_mid_upload_leaves_nothing(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    # Over 1 MiB so the local store has already written to its temporary file.
    response = await stream_upload(files, headers, [file_head(), *[b"z" * 300_000] * 5], disconnect=True)
    assert response.status_code == 400
    await assert_nothing_kept(files)


async def test_failure_to_record_the_upload_deletes_its_bytes(files_app, auth_headers, monkeypatch):
    files = await files_app()
    headers = await auth_headers(files.app)

    async def database_down(**fields):
        raise ConnectionError("database went away")

    # Fault injection at the one step that follows storing the bytes.
    monkeypatch.setattr(File, "create", database_down)
    response = await files.upload(headers, b"q" * 2_000_000)
    assert response.status_code == 500
    assert await response.get_json() == {"detail": "Internal server error"}
    monkeypatch.undo()
    await assert_nothing_kept(files)


async def test_a_stalled_upload_is_abandoned_with_408(files_app, auth_headers):
    files = await files_app({"idle_timeout": 0.01})
    headers = await auth_headers(files.app)
    # The client sends the start of the file and then nothing: no sleep here, the server gives up.
    response = await stream_upload(files, headers, [file_head(), b"partial" * 1000], complete=False)
    assert response.status_code == 408
    assert await response.get_json() == {"detail": "The upload stalled: no data arrived in time"}
    await assert_nothing_kept(files)

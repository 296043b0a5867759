"""The files API through HTTP: upload, list, metadata, download (ranges), delete, access rules."""

from __future__ import annotations

import hashlib

import pytest

from files_helpers import multipart_body, multipart_headers

pytestmark = pytest.mark.asyncio


async def test_upload_list_download_delete_on_the_spec_paths(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    data = b"hello world\n" * 1000

    response = await files.upload(headers, data, filename="notes.txt", content_type="text/plain")
    assert response.status_code == 201
    record = await response.get_json()
    assert response.headers["Location"] == f"/api/files/{record['id']}"
    assert record["filename"] == "notes.txt"
    assert record["meta"] == {
        "name": "notes.txt",
        "content_type": "text/plain",
        "size": len(data),
        "file_hash": hashlib.sha256(data).hexdigest(),
        "data": {},
    }
    assert files.stored_files() == [files.uploads_dir / record["id"][:2] / record["id"]]

    listing = await (await files.client.get("/api/files", headers=headers)).get_json()
    assert listing["total"] == 1
    assert [item["id"] for item in listing["items"]] == [record["id"]]

    download = await files.client.get(f"/api/files/{record['id']}", headers=headers)
    assert download.status_code == 200
    assert await download.get_data() == data
    assert download.headers["Content-Type"] == "text/plain"
    assert download.headers["Content-Length"] == str(len(data))
    assert (
        download.headers["Content-Disposition"]
        == "inline; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
    )
    assert download.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert download.headers["Accept-Ranges"] == "bytes"
    assert download.headers["X-Content-Type-Options"] == "nosniff"

    metadata = await files.client.get(f"/api/files/{record['id']}/metadata", headers=headers)
    assert (await metadata.get_json())["id"] == record["id"]

    deleted = await files.client.delete(f"/api/files/{record['id']}", headers=headers)
    assert deleted.status_code == 200
    assert await deleted.get_json() == {"message": "File deleted successfully"}
    assert files.stored_files() == []
    assert (await files.client.get(f"/api/files/{record['id']}", headers=headers)).status_code == 404
    assert (await (await files.client.get("/api/files", headers=headers)).get_json())["total"] == 0


async def test_open_webui_paths_and_shapes(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    response = await files.upload(
        headers,
        b"%PDF-1.4 fake",
        filename="report.pdf",
        content_type="application/pdf",
        metadata=b'{"chat_id": "c1"}',
        path="/api/v1/files/",
    )
    assert response.status_code == 200
    record = await response.get_json()
    assert record["status"] is True
    assert record["meta"]["data"] == {"chat_id": "c1"}
    assert record["path"] == f"local://{record['id'][:2]}/{record['id']}"
    file_id = record["id"]

    model = await (await files.client.get(f"/api/v1/files/{file_id}", headers=headers)).get_json()
    assert {key: model[key] for key in ("id", "user_id", "filename", "hash", "data", "created_at")} == {
        key: record[key] for key in ("id", "user_id", "filename", "hash", "data", "created_at")
    }

    content = await files.client.get(f"/api/v1/files/{file_id}/content", headers=headers)
    assert await content.get_data() == b"%PDF-1.4 fake"
    assert content.headers["Content-Disposition"].startswith("inline;")
    forced = await files.client.get(f"/api/v1/files/{file_id}/content?attachment=true", headers=headers)
    assert forced.headers["Content-Disposition"].startswith("attachment;")
    named = await files.client.get(f"/api/v1/files/{file_id}/content/report.pdf", headers=headers)
    assert named.headers["Content-Disposition"].startswith("attachment;")
    assert await named.get_data() == b"%PDF-1.4 fake"

    page = await (await files.client.get("/api/v1/files/", headers=headers)).get_json()
    assert page["total"] == 1 and page["items"][0]["id"] == file_id

    found = await files.client.get("/api/v1/files/search?filename=*.PDF", headers=headers)
    assert [item["id"] for item in await found.get_json()] == [file_id]
    missing = await files.client.get("/api/v1/files/search?filename=*.doc", headers=headers)
    assert missing.status_code == 404
    assert await missing.get_json() == {"detail": "No files found matching the pattern."}

    deleted = await files.client.delete(f"/api/v1/files/{file_id}", headers=headers)
    assert await deleted.get_json() == {"message": "File deleted successfully"}
    assert files.stored_files() == []


async def test_listing_is_paginated_newest_first(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    ids = []
    for number in range(5):
        ids.append((await (await files.upload(headers, f"{number}".encode())).get_json())["id"])
    from colonnade.plugins.files.models import File

    for age, file_id in enumerate(ids):  # distinct timestamps: uploads within one second tie
        await File.filter(id=file_id).update(created_at=1000 + age)
    first = await (await files.client.get("/api/files?limit=2", headers=headers)).get_json()
    third = await (await files.client.get("/api/files?limit=2&page=3", headers=headers)).get_json()
    assert first["total"] == third["total"] == 5
    assert [item["id"] for item in first["items"]] == [ids[4], ids[3]]
    assert [item["id"] for item in third["items"]] == [ids[0]]
    bad = await files.client.get("/api/files?page=0", headers=headers)
    assert bad.status_code == 422 and "detail" in await bad.get_json()
    # A page whose offset overflows the database's 64-bit integer used to be a 500.
    for path in ("/api/files?page=99999999999999999999", "/api/v1/files/?page=9223372036854775807"):
        huge = await files.client.get(path, headers=headers)
        assert huge.status_code == 422 and "page" in (await huge.get_json())["detail"], path


async def test_another_users_file_is_404_everywhere(files_app, auth_headers):
    files = await files_app()
    owner = await auth_headers(files.app)
    other = await auth_headers(files.app)
    file_id = (await (await files.upload(owner)).get_json())["id"]

    for method, path in [
        ("GET", f"/api/files/{file_id}"),
        ("GET", f"/api/files/{file_id}/metadata"),
        ("DELETE", f"/api/files/{file_id}"),
        ("GET", f"/api/v1/files/{file_id}"),
        ("GET", f"/api/v1/files/{file_id}/content"),
        ("GET", f"/api/v1/files/{file_id}/content/hello.txt"),
        ("DELETE", f"/api/v1/files/{file_id}"),
    ]:
        response = await files.client.open(path, method=method, headers=other)
        assert response.status_code == 404, (method, path)
        assert await response.get_json() == {"detail": "We could not find what you're looking for :/"}
    assert (await (await files.client.get("/api/files", headers=other)).get_json())["total"] == 0
    # The owner still has it, bytes included.
    assert await (await files.client.get(f"/api/files/{file_id}", headers=owner)).get_data() == b"hello world"
    assert len(files.stored_files()) == 1


async def test_admin_may_read_and_delete_any_file(files_app, auth_headers):
    files = await files_app()
    owner = await auth_headers(files.app)
    admin = await auth_headers(files.app, role="admin")
    file_id = (await (await files.upload(owner)).get_json())["id"]
    assert (await files.client.get(f"/api/files/{file_id}", headers=admin)).status_code == 200
    assert (await files.client.delete(f"/api/files/{file_id}", headers=admin)).status_code == 200
    assert files.stored_files() == []


async def test_authentication_and_role_are_required(files_app, auth_headers):
    files = await files_app()
    assert (await files.client.get("/api/files")).status_code == 401
    unauthenticated = await files.client.post(
        "/api/files",
        data=multipart_body([("file", "a.txt", "text/plain", b"x")]),
        headers=multipart_headers({}),
    )
    assert unauthenticated.status_code == 401
    pending = await auth_headers(files.app, role="pending")
    refused = await files.upload(pending)
    assert refused.status_code == 403
    assert await files.record_count() == 0 and files.stored_files() == []


async def test_unknown_ids_are_404(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    for path in (
        "/api/files/nope",
        "/api/files/" + "x" * 300,
        "/api/v1/files/00000000-0000-0000-0000-000000000000",
    ):
        assert (await files.client.get(path, headers=headers)).status_code == 404


async def test_missing_bytes_are_reported_not_served(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    file_id = (await (await files.upload(headers)).get_json())["id"]
    for path in files.stored_files():
        path.unlink()  # an operator removed the directory's contents by hand
    response = await files.client.get(f"/api/v1/files/{file_id}/content", headers=headers)
    assert response.status_code == 404
    assert await response.get_json() == {"detail": "Original file is unavailable."}


# -- ranges ------------------------------------------------------------------------------------------


DIGITS = b"0123456789" * 10  # 100 bytes


@pytest.mark.parametrize(
    ("header", "status", "content_range", "body"),
    [
        ("bytes=0-9", 206, "bytes 0-9/100", DIGITS[:10]),
        ("bytes=95-", 206, "bytes 95-99/100", DIGITS[95:]),
        ("bytes=-3", 206, "bytes 97-99/100", DIGITS[97:]),
        ("bytes=90-1000", 206, "bytes 90-99/100", DIGITS[90:]),
        ("bytes=-500", 206, "bytes 0-99/100", DIGITS),
        ("bytes=0-1,5-6", 200, None, DIGITS),  # several ranges: the whole file
        ("bytes=5-2", 200, None, DIGITS),  # invalid: ignored
        ("items=0-1", 200, None, DIGITS),
        ("bytes=abc", 200, None, DIGITS),
    ],
)
async def test_range_requests(files_app, auth_headers, header, status, content_range, body):
    files = await files_app()
    headers = await auth_headers(files.app)
    file_id = (await (await files.upload(headers, DIGITS)).get_json())["id"]
    response = await files.client.get(f"/api/files/{file_id}", headers={**headers, "Range": header})
    assert response.status_code == status
    assert response.headers.get("Content-Range") == content_range
    assert response.headers["Content-Length"] == str(len(body))
    assert await response.get_data() == body


async def test_unsatisfiable_range_is_416(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    file_id = (await (await files.upload(headers, DIGITS)).get_json())["id"]
    for header in ("bytes=100-", "bytes=500-600", "bytes=-0"):
        response = await files.client.get(
            f"/api/v1/files/{file_id}/content", headers={**headers, "Range": header}
        )
        assert response.status_code == 416, header
        assert response.headers["Content-Range"] == "bytes */100"
        assert await response.get_json() == {"detail": "Range not satisfiable"}


async def test_if_range_with_a_stale_etag_gets_the_whole_file(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    record = await (await files.upload(headers, DIGITS)).get_json()
    current = f'"{record["meta"]["file_hash"]}"'
    fresh = await files.client.get(
        f"/api/files/{record['id']}", headers={**headers, "Range": "bytes=0-1", "If-Range": current}
    )
    stale = await files.client.get(
        f"/api/files/{record['id']}", headers={**headers, "Range": "bytes=0-1", "If-Range": '"old"'}
    )
    assert (fresh.status_code, await fresh.get_data()) == (206, b"01")
    assert (stale.status_code, await stale.get_data()) == (200, DIGITS)


async def test_empty_file_round_trip(files_app, auth_headers):
    files = await files_app()
    headers = await auth_headers(files.app)
    record = await (await files.upload(headers, b"", filename="empty.bin", content_type=None)).get_json()
    assert record["meta"]["size"] == 0
    assert record["meta"]["content_type"] == "application/octet-stream"
    response = await files.client.get(f"/api/files/{record['id']}", headers=headers)
    assert (response.status_code, response.headers["Content-Length"], await response.get_data()) == (
        200,
        "0",
        b"",
    )
    assert response.headers["Content-Disposition"].startswith("attachment;")

"""The S3 store against a real S3-compatible server on loopback (moto's server mode), and its signer."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime

import pytest
from files_helpers import BOUNDARY, multipart_headers

from colonnade.testing import closed_port

MIB = 1024 * 1024


@pytest.fixture
def bucket(s3_server):
    """A fresh bucket and a boto3 client to look at it independently of the store under test."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    name = f"files-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name, client


def s3_config(endpoint: str, bucket_name: str, **extra) -> dict:
    return {
        "store": "s3",
        "s3": {
            "endpoint_url": endpoint,
            "bucket": bucket_name,
            "access_key_id": "testing",
            "secret_access_key": "testing",
            **extra,
        },
    }


async def objects_in(client, bucket_name: str) -> list[str]:
    listing = await asyncio.to_thread(client.list_objects_v2, Bucket=bucket_name)
    return [item["Key"] for item in listing.get("Contents", [])]


async def pending_multipart_uploads(client, bucket_name: str) -> list:
    listing = await asyncio.to_thread(client.list_multipart_uploads, Bucket=bucket_name)
    return listing.get("Uploads", [])


async def object_bytes(client, bucket_name: str, key: str) -> tuple[bytes, str]:
    response = await asyncio.to_thread(client.get_object, Bucket=bucket_name, Key=key)
    return response["Body"].read(), response["ETag"]


@pytest.mark.asyncio
async def test_s3_round_trip(files_app, auth_headers, s3_server, bucket):
    bucket_name, client = bucket
    files = await files_app(s3_config(s3_server, bucket_name, key_prefix="colonnade/"))
    headers = await auth_headers(files.app)
    data = b"stored in a bucket\n" * 100

    record = await (await files.upload(headers, data, filename="notes.txt")).get_json()
    key = f"colonnade/{record['id'][:2]}/{record['id']}"
    assert record["path"] == f"s3://{record['id'][:2]}/{record['id']}"
    assert await objects_in(client, bucket_name) == [key]
    assert (await object_bytes(client, bucket_name, key))[0] == data
    assert files.stored_files() == []

    download = await files.client.get(f"/api/files/{record['id']}", headers=headers)
    assert (download.status_code, await download.get_data()) == (200, data)
    assert download.headers["Content-Length"] == str(len(data))
    part = await files.client.get(f"/api/files/{record['id']}", headers={**headers, "Range": "bytes=10-15"})
    assert (part.status_code, await part.get_data(), part.headers["Content-Range"]) == (
        206,
        data[10:16],
        f"bytes 10-15/{len(data)}",
    )

    assert (await files.client.delete(f"/api/files/{record['id']}", headers=headers)).status_code == 200
    assert await objects_in(client, bucket_name) == []


@pytest.mark.asyncio
async def test_s3_multipart_upload_of_a_big_file(files_app, auth_headers, s3_server, bucket):
    bucket_name, client = bucket
    files = await files_app(s3_config(s3_server, bucket_name, part_size=5 * MIB))
    headers = await auth_headers(files.app)
    data = hashlib.sha256(b"seed").digest() * ((11 * MIB + 123) // 32)

    response = await files.upload(headers, data, filename="big.bin", content_type="application/octet-stream")
    assert response.status_code == 201, await response.get_data()
    record = await response.get_json()
    assert record["meta"]["size"] == len(data)
    assert record["meta"]["file_hash"] == hashlib.sha256(data).hexdigest()
    stored, etag = await object_bytes(client, bucket_name, f"{record['id'][:2]}/{record['id']}")
    assert stored == data
    assert etag.strip('"').endswith("-3")  # three parts: 5 MiB, 5 MiB, the rest
    assert await pending_multipart_uploads(client, bucket_name) == []

    across = await files.client.get(
        f"/api/files/{record['id']}", headers={**headers, "Range": f"bytes={5 * MIB - 4}-{5 * MIB + 3}"}
    )
    assert await across.get_data() == data[5 * MIB - 4 : 5 * MIB + 4]


async def stream(files, headers, chunks, *, disconnect: bool):
    async with files.client.request(
        "/api/files", method="POST", headers=multipart_headers(headers)
    ) as connection:
        for chunk in chunks:
            await connection.send(chunk)
        await (connection.disconnect() if disconnect else connection.send_complete())
    return await connection.as_response()


HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
    "Content-Type: application/octet-stream\r\n\r\n"
).encode()


@pytest.mark.asyncio
async def test_s3_interrupted_upload_is_aborted(files_app, auth_headers, s3_server, bucket):
    bucket_name, client = bucket
    files = await files_app(s3_config(s3_server, bucket_name, part_size=5 * MIB))
    headers = await auth_headers(files.app)
    # Six MiB: the first part is already uploaded when the client goes away.
    response = await stream(files, headers, [HEAD, *[b"p" * MIB] * 6], disconnect=True)
    assert response.status_code == 400
    assert await pending_multipart_uploads(client, bucket_name) == []
    assert await objects_in(client, bucket_name) == []
    assert await files.record_count() == 0


@pytest.mark.asyncio
async def test_s3_too_large_is_413_and_aborted(files_app, auth_headers, s3_server, bucket):
    bucket_name, client = bucket
    files = await files_app({**s3_config(s3_server, bucket_name, part_size=5 * MIB), "max_size": 6 * MIB})
    headers = await auth_headers(files.app)
    response = await stream(
        files, headers, [HEAD, *[b"p" * MIB] * 8, f"\r\n--{BOUNDARY}--\r\n".encode()], disconnect=False
    )
    assert response.status_code == 413
    assert await pending_multipart_uploads(client, bucket_name) == []
    assert await objects_in(client, bucket_name) == []
    assert await files.record_count() == 0


@pytest.mark.asyncio
async def test_s3_unreachable_is_502(files_app, auth_headers):
    port = closed_port()
    files = await files_app(s3_config(f"http://127.0.0.1:{port}", "nowhere"))
    headers = await auth_headers(files.app)
    response = await files.upload(headers, b"data")
    assert response.status_code == 502
    assert await response.get_json() == {"detail": "The file store failed; try again later"}
    assert await files.record_count() == 0


# -- the signer ----------------------------------------------------------------------------------------


def test_sigv4_matches_the_aws_documentation_example():
    # "GET Object" example of the S3 SigV4 documentation ("Authenticating Requests: Using the
    # Authorization Header"), with its published signature.
    from colonnade.plugins.files.stores.sigv4 import EMPTY_SHA256, sign

    headers = sign(
        "GET",
        "examplebucket.s3.amazonaws.com",
        "/test.txt",
        {},
        {"Range": "bytes=0-9"},
        payload_sha256=EMPTY_SHA256,
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        when=datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


@pytest.mark.parametrize(
    ("method", "path", "params", "extra"),
    [
        ("PUT", "/bucket/ab/abcdef", {"partNumber": "2", "uploadId": "a/b+c=="}, {}),
        ("POST", "/bucket/pre%20fix/ab/key", {"uploads": ""}, {"content-type": "application/pdf"}),
        ("DELETE", "/bucket/ab/key", {}, {}),
    ],
)
def test_sigv4_matches_botocore(method, path, params, extra):
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from colonnade.plugins.files.stores.sigv4 import canonical_query, sign

    body = b"some body"
    digest = hashlib.sha256(body).hexdigest()
    when = datetime(2024, 2, 29, 12, 30, 45, tzinfo=UTC)
    ours = sign(
        method,
        "127.0.0.1:9000",
        path,
        params,
        extra,
        payload_sha256=digest,
        access_key="AKID",
        secret_key="SECRET",
        region="eu-west-1",
        when=when,
        session_token="TOKEN",
    )
    query = canonical_query(params)
    request = AWSRequest(
        method=method,
        url=f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else ""),
        headers={name: value for name, value in ours.items() if name != "authorization"},
        data=body,
    )
    auth = S3SigV4Auth(Credentials("AKID", "SECRET", "TOKEN"), "s3", "eu-west-1")
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    assert ours["authorization"].endswith(f"Signature={expected}")

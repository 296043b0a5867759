"""The LanceDB store on object storage (``vector_store_uri = "s3://..."``), for several hosts: embed,
query, update and delete through the HTTP API against a real S3-compatible server on loopback (moto's
server mode), with the vectors landing in the bucket and nowhere on local disk."""

from __future__ import annotations

import pytest
from rag_helpers import WordEmbeddings

pytestmark = pytest.mark.asyncio

BUCKET = "vectors"
CATS = "Cats sleep for most of the day. A cat purrs when it is content."
TAXES = "Tax returns are due in April. Late filing brings a penalty."


@pytest.fixture
def s3_endpoint(s3_server):
    """The session's S3-compatible server, with an empty bucket for the vectors."""
    import boto3

    boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    return s3_server


def stored_keys(endpoint: str, prefix: str) -> list[str]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def options(endpoint: str) -> dict[str, str]:
    return {
        "aws_endpoint": endpoint,
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
        "aws_region": "us-east-1",
        "allow_http": "true",
    }


async def test_vectors_live_in_the_bucket(rag_app, auth_headers, s3_endpoint, tmp_path):
    prefix = f"hosts-{tmp_path.name}"
    app = await rag_app(
        {
            "vector_store_uri": f"s3://{BUCKET}/{prefix}",
            "vector_store_options": options(s3_endpoint),
        },
        functions=[WordEmbeddings()],
    )
    client, alice = app.test_client(), await auth_headers(app)
    for text in (CATS, TAXES):
        answer = await client.post(
            "/api/rag/embed", json={"text": text, "collection_name": "notes"}, headers=alice
        )
        assert answer.status_code == 200, await answer.get_data()

    found = await (
        await client.post(
            "/api/rag/query",
            json={"query": "why does my cat purr", "collection_names": ["notes"], "k": 1},
            headers=alice,
        )
    ).get_json()
    assert found["documents"] == [[CATS]]

    keys = stored_keys(s3_endpoint, prefix)
    assert any(key.startswith(f"{prefix}/notes.lance/") and key.endswith(".lance") for key in keys), keys
    assert not (app.extensions["colonnade"].settings.server.data_dir / "vectors").exists()

    # Another host's store on the same bucket reads what this one wrote.
    from colonnade.plugins.rag.lance import LanceDBStore

    other = LanceDBStore(f"s3://{BUCKET}/{prefix}", storage_options=options(s3_endpoint))
    try:
        assert "notes" in await other.list_collections()
        assert await other.count("notes") == 2
    finally:
        await other.close()

"""``/api/rag/embed`` and ``/api/rag/query``: texts and files in, chunks out, scoped to the caller."""

from __future__ import annotations

import pytest
from rag_helpers import WordEmbeddings, docx_bytes, pdf_bytes, upload

pytestmark = pytest.mark.asyncio

CATS = "Cats sleep for most of the day. A cat purrs when it is content."
TAXES = "Tax returns are due in April. Late filing brings a penalty."


async def started(rag_app, auth_headers, **config):
    words = WordEmbeddings()
    app = await rag_app(config, functions=[words], load_plugins=["files"])
    return app, app.test_client(), words, await auth_headers(app)


async def test_embed_a_text_then_query_it(rag_app, auth_headers):
    _app, client, words, alice = await started(rag_app, auth_headers)
    first = await client.post(
        "/api/rag/embed", json={"text": CATS, "name": "cats.txt", "collection_name": "notes"}, headers=alice
    )
    assert first.status_code == 200, await first.get_data()
    body = await first.get_json()
    assert (body["collection_name"], body["chunks"], body["skipped"]) == ("notes", 1, False)
    await client.post("/api/rag/embed", json={"text": TAXES, "collection_name": "notes"}, headers=alice)

    answer = await client.post(
        "/api/rag/query",
        json={"query": "why does my cat purr", "collection_names": ["notes"], "k": 1},
        headers=alice,
    )
    assert answer.status_code == 200
    found = await answer.get_json()
    assert found["documents"] == [[CATS]]
    metadata = found["metadatas"][0][0]
    assert metadata["name"] == "cats.txt" and metadata["owner_id"] and metadata["position"] == 0
    assert metadata["start_index"] == 0 and metadata["embedding_config"] == {
        "engine": "words",
        "model": "bag-of-words",
    }
    assert 0 < found["distances"][0][0] <= 1

    embedded = words.embedded
    again = await (
        await client.post("/api/rag/embed", json={"text": CATS, "collection_name": "notes"}, headers=alice)
    ).get_json()
    assert again["skipped"] is True and words.embedded == embedded  # unchanged: no work


async def test_another_user_never_gets_my_chunks(rag_app, auth_headers):
    app, client, _words, alice = await started(rag_app, auth_headers)
    bob = await auth_headers(app)
    await client.post("/api/rag/embed", json={"text": CATS, "collection_name": "shared-name"}, headers=alice)
    await client.post("/api/rag/embed", json={"text": TAXES, "collection_name": "shared-name"}, headers=bob)
    mine = await (
        await client.post(
            "/api/rag/query",
            json={"query": "cat tax", "collection_names": ["shared-name"], "k": 5},
            headers=bob,
        )
    ).get_json()
    assert mine["documents"] == [[TAXES]]
    # The same text by two users is two sets of chunks: neither replaces the other's.
    again = await client.post(
        "/api/rag/embed", json={"text": CATS, "collection_name": "shared-name"}, headers=bob
    )
    assert (await again.get_json())["skipped"] is False
    bobs = await (
        await client.post(
            "/api/rag/query",
            json={"query": "cat purrs", "collection_names": ["shared-name"], "k": 5},
            headers=bob,
        )
    ).get_json()
    assert bobs["documents"] == [[CATS, TAXES]]
    theirs = await (
        await client.post(
            "/api/rag/query",
            json={"query": "cat", "collection_names": ["shared-name"], "k": 5},
            headers=alice,
        )
    ).get_json()
    assert theirs["documents"] == [[CATS]]


async def test_uploads_are_indexed_with_their_status(rag_app, auth_headers):
    app, client, words, alice = await started(rag_app, auth_headers)
    ingestor = app.extensions["colonnade"].state("rag").ingestor
    record = await upload(
        client,
        alice,
        "notes.md",
        b"# Cats\n" + CATS.encode() + b"\n\n# Taxes\n" + TAXES.encode(),
        "text/markdown",
    )
    status = await (
        await client.get(f"/api/v1/files/{record['id']}/process/status", headers=alice)
    ).get_json()
    assert status["status"] in ("pending", "processing", "completed")
    await ingestor.drain()
    status = await (await client.get(f"/api/rag/files/{record['id']}/status", headers=alice)).get_json()
    assert status == {"id": record["id"], "status": "completed", "collection_name": f"file-{record['id']}"}
    meta = await (await client.get(f"/api/v1/files/{record['id']}", headers=alice)).get_json()
    assert meta["data"]["content"].startswith("# Cats") and meta["hash"]

    found = await (
        await client.post(
            "/api/rag/query", json={"query": "tax penalty", "file_ids": [record["id"]], "k": 1}, headers=alice
        )
    ).get_json()
    assert found["documents"][0][0].startswith("# Taxes")
    assert found["metadatas"][0][0]["file_id"] == record["id"]

    embedded = words.embedded
    again = await (
        await client.post("/api/rag/embed", json={"file_ids": [record["id"]]}, headers=alice)
    ).get_json()
    assert again["results"][0]["skipped"] is True and words.embedded == embedded

    bob = await auth_headers(app)
    refused = await client.post(
        "/api/rag/query", json={"query": "tax", "file_ids": [record["id"]]}, headers=bob
    )
    assert refused.status_code == 404
    refused = await client.post(
        "/api/rag/query", json={"query": "tax", "collection_names": [f"file-{record['id']}"]}, headers=bob
    )
    assert refused.status_code == 404


@pytest.mark.parametrize(
    ("filename", "content_type", "data", "expected"),
    [
        (
            "report.pdf",
            "application/pdf",
            pdf_bytes("Revenue grew twelve percent", "Costs fell"),
            "Revenue grew twelve percent",
        ),
        (
            "memo.docx",
            "application/octet-stream",
            docx_bytes("The memo says hello", "Second paragraph"),
            "The memo says hello",
        ),
        (
            "page.html",
            "text/html",
            b"<html><body><h1>Title</h1><script>no()</script><p>Body text</p></body></html>",
            "Title",
        ),
        ("people.csv", "text/csv", b"name,city\nAda,London\n", "name: Ada\ncity: London"),
    ],
)
async def test_documents_of_each_type_are_extracted(
    rag_app, auth_headers, filename, content_type, data, expected
):
    _app, client, _words, alice = await started(rag_app, auth_headers, index_on_upload=False)
    record = await upload(client, alice, filename, data, content_type)
    response = await client.post("/api/rag/embed", json={"file_id": record["id"]}, headers=alice)
    assert response.status_code == 200, await response.get_data()
    meta = await (await client.get(f"/api/v1/files/{record['id']}", headers=alice)).get_json()
    assert meta["data"]["status"] == "completed"
    assert meta["data"]["content"].startswith(expected)
    assert "<script>" not in meta["data"]["content"] and "no()" not in meta["data"]["content"]


async def test_a_file_that_cannot_be_read_fails_with_the_reason(rag_app, auth_headers):
    app, client, _words, alice = await started(rag_app, auth_headers)
    record = await upload(client, alice, "photo.png", b"\x89PNG\r\n\x1a\n....", "image/png")
    await app.extensions["colonnade"].state("rag").ingestor.drain()
    status = await (await client.get(f"/api/rag/files/{record['id']}/status", headers=alice)).get_json()
    assert status["status"] == "failed"
    assert "cannot extract text from files of type image/png" in status["error"]
    again = await client.post("/api/rag/embed", json={"file_id": record["id"]}, headers=alice)
    assert again.status_code == 400
    assert "image/png" in (await again.get_json())["detail"]


async def test_long_ingests_report_progress(rag_app, auth_headers):
    app, client, _words, alice = await started(
        rag_app, auth_headers, chunk_size=100, chunk_overlap=0, index_on_upload=False
    )
    text = " ".join(f"sentence number {index} about nothing much." for index in range(800)).encode()
    record = await upload(client, alice, "long.txt", text, "text/plain")
    seen = []
    ingestor = app.extensions["colonnade"].state("rag").ingestor
    original = ingestor.set_file_data

    async def recording(file, hash=None, **changes):
        if "progress" in changes:
            seen.append(changes["progress"])
        await original(file, hash=hash, **changes)

    ingestor.set_file_data = recording
    result = await (
        await client.post("/api/rag/embed", json={"file_id": record["id"]}, headers=alice)
    ).get_json()
    chunks = result["results"][0]["chunks"]
    assert chunks > 256
    assert seen[0] == {"done": 256, "total": chunks} and seen[-1] == {"done": chunks, "total": chunks}


async def test_deleting_a_file_removes_its_vectors(rag_app, auth_headers):
    app, client, _words, alice = await started(rag_app, auth_headers)
    record = await upload(client, alice, "cats.txt", CATS.encode(), "text/plain")
    rag = app.extensions["colonnade"].state("rag")
    await rag.ingestor.drain()
    assert await rag.service.store.count(f"file-{record['id']}") == 1
    assert (await client.delete(f"/api/v1/files/{record['id']}", headers=alice)).status_code == 200
    assert f"file-{record['id']}" not in await rag.service.store.list_collections()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"text": ""}, 400),
        ({"text": "x", "file_id": "f"}, 422),
        ({"text": "x", "collection_name": "bad name!"}, 422),
        ({"text": "x", "collection_name": "file-abc"}, 403),
        ({"file_id": "no-such-file"}, 404),
    ],
)
async def test_bad_embed_requests(rag_app, auth_headers, body, status):
    app, client, _words, alice = await started(rag_app, auth_headers)
    response = await client.post("/api/rag/embed", json=body, headers=alice)
    assert response.status_code == status, await response.get_data()
    assert isinstance((await response.get_json())["detail"], str)
    assert await app.extensions["colonnade"].state("rag").service.store.list_collections() == []


async def test_a_collection_of_another_embedding_is_a_clear_error(rag_app, auth_headers):
    from colonnade.plugins.rag.embedding import Embedder

    app, client, _words, alice = await started(rag_app, auth_headers)
    await client.post("/api/rag/embed", json={"text": CATS, "collection_name": "notes"}, headers=alice)
    rag = app.extensions["colonnade"].state("rag").service
    rag.embedder = Embedder(WordEmbeddings("other", dimension=32), "m")  # as after a configuration change
    response = await client.post(
        "/api/rag/query", json={"query": "cat", "collection_names": ["notes"]}, headers=alice
    )
    assert response.status_code == 409
    assert (
        "holds vectors of words:bag-of-words, 64 dims, not other:m" in (await response.get_json())["detail"]
    )
    response = await client.post(
        "/api/rag/embed", json={"text": TAXES, "collection_name": "notes"}, headers=alice
    )
    assert response.status_code == 409


async def test_the_same_text_sent_twice_at_once_is_stored_once(rag_app, auth_headers):
    import asyncio

    app, client, _words, alice = await started(rag_app, auth_headers)
    body = {"text": CATS, "collection_name": "notes"}
    answers = await asyncio.gather(
        *(client.post("/api/rag/embed", json=body, headers=alice) for _ in range(3))
    )
    results = [await answer.get_json() for answer in answers]
    assert sorted(result["skipped"] for result in results) == [False, True, True]
    assert await app.extensions["colonnade"].state("rag").service.store.count("notes") == 1


async def test_hybrid_search_and_the_relevance_threshold(rag_app, auth_headers):
    _app, client, _words, alice = await started(rag_app, auth_headers)
    for text in (CATS, TAXES, "Dogs bark at the postman every single morning."):
        await client.post("/api/rag/embed", json={"text": text, "collection_name": "notes"}, headers=alice)
    body = {"query": "penalty for late tax filing", "collection_names": ["notes"], "k": 3}
    hybrid = await (
        await client.post("/api/rag/query", json={**body, "hybrid": True}, headers=alice)
    ).get_json()
    assert hybrid["documents"][0][0] == TAXES
    assert hybrid["distances"][0][0] == pytest.approx(1.0)  # first in both rankings
    vector = await (
        await client.post("/api/rag/query", json={**body, "hybrid": False}, headers=alice)
    ).get_json()
    assert vector["documents"][0][0] == TAXES and len(vector["documents"][0]) == 3
    best = vector["distances"][0][0]
    strict = await (
        await client.post("/api/rag/query", json={**body, "r": best - 0.0001}, headers=alice)
    ).get_json()
    assert strict["documents"] == [[TAXES]]
    bad = await client.post("/api/rag/query", json={**body, "r": 1.5}, headers=alice)
    assert bad.status_code == 422

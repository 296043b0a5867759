"""Open WebUI's retrieval paths (``/api/v1/retrieval/*``) on the same code as ``/api/rag``."""

from __future__ import annotations

import pytest
from rag_helpers import WordEmbeddings, upload

pytestmark = pytest.mark.asyncio

CATS = "Cats sleep for most of the day. A cat purrs when it is content."
TAXES = "Tax returns are due in April. Late filing brings a penalty."


async def started(rag_app, auth_headers, **config):
    app = await rag_app(
        {"index_on_upload": False, **config}, functions=[WordEmbeddings()], load_plugins=["files"]
    )
    client = app.test_client()
    return app, client, await auth_headers(app, user_id="alice-id"), await auth_headers(app, role="admin")


async def test_process_text_then_query_doc_and_collection(rag_app, auth_headers):
    _, client, alice, _ = await started(rag_app, auth_headers)
    response = await client.post(
        "/api/v1/retrieval/process/text", json={"name": "cats", "content": CATS}, headers=alice
    )
    body = await response.get_json()
    assert response.status_code == 200 and body["status"] is True and body["content"] == CATS
    collection = body["collection_name"]
    assert len(collection) == 64  # the SHA-256 of the text, as Open WebUI names it
    doc = await (
        await client.post(
            "/api/v1/retrieval/query/doc", json={"collection_name": collection, "query": "cat"}, headers=alice
        )
    ).get_json()
    assert set(doc) == {"ids", "documents", "metadatas", "distances"} and doc["documents"] == [[CATS]]
    merged = await client.post(
        "/api/v1/retrieval/query/collection",
        json={"collection_names": [collection], "query": "cat", "k": 1},
        headers=alice,
    )
    assert set(await merged.get_json()) == {"documents", "metadatas", "distances"}
    bad = await client.post(
        "/api/v1/retrieval/query/collection",
        json={"collection_names": ["bad name"], "query": "x"},
        headers=alice,
    )
    assert bad.status_code == 400


async def test_process_file_and_batch_into_a_knowledge_base(rag_app, auth_headers):
    _, client, alice, _ = await started(rag_app, auth_headers, users_can_create_knowledge=True)
    cats = await upload(client, alice, "cats.txt", CATS.encode(), "text/plain")
    taxes = await upload(client, alice, "taxes.txt", TAXES.encode(), "text/plain")
    processed = await (
        await client.post("/api/v1/retrieval/process/file", json={"file_id": cats["id"]}, headers=alice)
    ).get_json()
    assert processed == {
        "status": True,
        "collection_name": f"file-{cats['id']}",
        "filename": "cats.txt",
        "content": CATS,
    }
    # Given content replaces the extracted text.
    replaced = await client.post(
        "/api/v1/retrieval/process/file",
        json={"file_id": taxes["id"], "content": "Edited text about taxes."},
        headers=alice,
    )
    assert (await replaced.get_json())["content"] == "Edited text about taxes."

    knowledge = await (
        await client.post("/api/v1/knowledge/create", json={"name": "Mixed"}, headers=alice)
    ).get_json()
    batch = await client.post(
        "/api/v1/retrieval/process/files/batch",
        json={
            "files": [{"id": cats["id"]}, {"id": taxes["id"]}, {"id": "missing"}],
            "collection_name": knowledge["id"],
        },
        headers=alice,
    )
    result = await batch.get_json()
    assert [item["status"] for item in result["results"]] == ["completed", "completed", "failed"]
    assert result["errors"][0]["file_id"] == "missing"
    found = await (
        await client.post(
            "/api/rag/query",
            json={"query": "taxes", "knowledge_ids": [knowledge["id"]], "k": 1},
            headers=alice,
        )
    ).get_json()
    assert found["documents"] == [["Edited text about taxes."]]


async def test_admin_routes(rag_app, auth_headers):
    _, client, alice, admin = await started(rag_app, auth_headers)
    cats = await upload(client, alice, "cats.txt", CATS.encode(), "text/plain")
    await client.post("/api/rag/embed", json={"file_id": cats["id"]}, headers=alice)
    assert (await client.get("/api/v1/retrieval/embedding", headers=alice)).status_code == 403
    embedding = await (await client.get("/api/v1/retrieval/embedding", headers=admin)).get_json()
    assert (embedding["RAG_EMBEDDING_ENGINE"], embedding["RAG_EMBEDDING_MODEL"]) == ("words", "bag-of-words")
    config = await (await client.get("/api/v1/retrieval/config", headers=admin)).get_json()
    assert (config["CHUNK_SIZE"], config["CHUNK_OVERLAP"], config["TOP_K"]) == (1000, 100, 3)
    assert "{{CONTEXT}}" in config["RAG_TEMPLATE"]
    body = {"collection_name": f"file-{cats['id']}", "file_id": cats["id"]}
    assert (await client.post("/api/v1/retrieval/delete", json=body, headers=alice)).status_code == 403
    assert await (await client.post("/api/v1/retrieval/delete", json=body, headers=admin)).get_json() == {
        "status": True
    }
    assert await (await client.post("/api/v1/retrieval/delete", json=body, headers=admin)).get_json() == {
        "status": False
    }


async def test_a_deleted_users_knowledge_bases_go_with_their_vectors(rag_app, auth_headers):
    app, client, alice, admin = await started(rag_app, auth_headers, users_can_create_knowledge=True)
    knowledge = await (await client.post("/api/knowledge", json={"name": "Mine"}, headers=alice)).get_json()
    cats = await upload(client, alice, "cats.txt", CATS.encode(), "text/plain")
    await client.post(
        f"/api/v1/knowledge/{knowledge['id']}/file/add", json={"file_id": cats["id"]}, headers=alice
    )
    store = app.extensions["colonnade"].state("rag").service.store
    assert set(await store.list_collections()) == {knowledge["id"], f"file-{cats['id']}"}
    assert (await client.delete("/api/v1/users/alice-id", headers=admin)).status_code == 200
    assert await store.list_collections() == []
    assert (await client.get(f"/api/knowledge/{knowledge['id']}", headers=admin)).status_code == 404

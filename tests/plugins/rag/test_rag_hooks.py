"""The ``register_vector_stores`` and ``register_embedding_functions`` hooks, selection and the service."""

from __future__ import annotations

import pytest
from rag_helpers import MemoryVectorStore, WordEmbeddings

from colonnade import StartupError
from colonnade.plugins.rag.embedding import Embedder
from colonnade.plugins.rag.service import rag_service
from colonnade.plugins.rag.vectors import CollectionMismatch

pytestmark = pytest.mark.asyncio


async def test_hook_register_vector_stores(rag_app):
    store = MemoryVectorStore()
    app = await rag_app({"vector_store": "memory"}, stores=[store])
    rag = rag_service(app.extensions["colonnade"])
    assert store.started
    assert rag.store is store
    assert set(rag.stores) == {"lancedb", "memory"}

    await rag.index(
        "notes", [("n1", "the cat sat on the mat", {"owner_id": "u1"}), ("n2", "stock prices fell", {})]
    )
    assert await store.list_collections() == ["notes"]
    hits = await rag.search(["notes"], "where did the cat sit?", k=1)
    assert [(hit.id, hit.collection) for hit in hits] == [("n1", "notes")]
    assert hits[0].metadata["owner_id"] == "u1"
    assert hits[0].metadata["embedding_config"] == {"engine": "words", "model": "bag-of-words"}
    assert await rag.delete("notes", {"owner_id": "u1"}) == 1
    assert [hit.id for hit in await rag.search(["notes"], "cat", k=3)] == ["n2"]


async def test_an_unknown_vector_store_stops_the_start(rag_app):
    with pytest.raises(StartupError, match="unknown vector store 'memry'"):
        await rag_app({"vector_store": "memry"}, stores=[MemoryVectorStore()])


async def test_hook_register_embedding_functions(rag_app):
    words = WordEmbeddings()
    app = await rag_app(functions=[words, WordEmbeddings("other", dimension=32)])
    rag = rag_service(app.extensions["colonnade"])
    assert set(rag.functions) == {"local", "words", "other"}
    assert rag.embedder.function is words
    assert rag.embedder.key == "words:bag-of-words"

    texts = [f"text number {index}" for index in range(20)]
    await rag.index("file-abc", [(f"c{index}", text, {"file_id": "abc"}) for index, text in enumerate(texts)])
    assert max(len(batch) for batch in words.calls) == words.batch_size  # sent in batches
    assert words.embedded == 1 + 20  # a dimension probe, then every text once
    info = await rag.collection("file-abc")
    assert (info.dimension, info.embedding, info.count) == (64, "words:bag-of-words", 20)


async def test_a_collection_of_another_embedding_is_refused(rag_app):
    app = await rag_app(functions=[WordEmbeddings(), WordEmbeddings("other", dimension=32)])
    rag = rag_service(app.extensions["colonnade"])
    await rag.index("notes", [("n1", "hello", {})])
    rag.embedder = Embedder(rag.functions["other"], "bag-of-words")  # as if restarted with another function
    with pytest.raises(CollectionMismatch, match="holds vectors of words:bag-of-words, 64 dims, not other"):
        await rag.search(["notes"], "hello")
    with pytest.raises(CollectionMismatch):
        await rag.index("notes", [("n2", "world", {})])


async def test_an_unknown_embedding_function_stops_the_start(rag_app):
    with pytest.raises(StartupError, match="unknown embedding function 'wrods'"):
        await rag_app({"embedding_function": "wrods"})


async def test_the_lancedb_store_through_the_service(rag_app):
    app = await rag_app({"hybrid_search": True})
    rag = rag_service(app.extensions["colonnade"])
    assert rag.store.name == "lancedb"
    chunks = [
        ("a", "Quarterly revenue grew by twelve percent", {"file_id": "f1", "owner_id": "u1", "position": 0}),
        ("b", "The office cat is called Biscuit", {"file_id": "f1", "owner_id": "u1", "position": 1}),
        ("c", "Biscuit likes the windowsill", {"file_id": "f2", "owner_id": "u2", "position": 0}),
    ]
    await rag.index("kb-1", chunks)
    hits = await rag.search(["kb-1", "no-such-collection"], "what is the cat called", k=2, hybrid=False)
    assert hits[0].id == "b"
    assert 0.0 <= hits[-1].score <= hits[0].score <= 1.0
    hybrid = await rag.search(["kb-1"], "Biscuit", k=3)
    assert {hit.id for hit in hybrid[:2]} == {"b", "c"}
    assert hybrid[0].score <= 1.0
    mine = await rag.search(["kb-1"], "Biscuit", k=3, where={"owner_id": "u1"})
    assert mine[0].id == "b"
    assert all(hit.metadata["owner_id"] == "u1" for hit in mine)
    assert await rag.delete("kb-1", {"file_id": "f1"}) == 2
    assert [record.id for record in await rag.store.get("kb-1")] == ["c"]
    await rag.drop("kb-1")
    assert await rag.store.list_collections() == []


async def test_a_large_lancedb_collection_gets_its_vector_index(rag_app):
    app = await rag_app({"vector_index_min_rows": 256})
    rag = rag_service(app.extensions["colonnade"])
    rag.store.settle_seconds = 0  # the quiet-time upkeep at once
    items = [
        (f"r{index}", f"item number {index} of the catalogue", {"owner_id": "u1"}) for index in range(300)
    ]
    items.append(("cat", "the office cat is called Biscuit", {"owner_id": "u1"}))
    await rag.index("big", items[:200])
    await rag.store.idle()
    assert not rag.store._vector_indexed["big"]  # below the threshold: searched exhaustively
    await rag.index("big", items[200:])
    await rag.store.idle()
    table = rag.store._tables["big"]
    assert "vector_idx" in {index.name for index in table.list_indices()}
    hits = await rag.search(["big"], "what is the cat called", k=1)
    assert [hit.id for hit in hits] == ["cat"]
    assert rag.store._indexed_rows["big"] == 301
    # A few more rows, once writes stop, are indexed too (the quiet-time upkeep rebuilds).
    await rag.index("big", [(f"s{index}", f"late item {index}", {}) for index in range(10)])
    await rag.store.idle()
    assert rag.store._indexed_rows["big"] == 311
    assert await rag.delete("big", {"id": "cat"}) == 1
    assert [hit.id for hit in await rag.search(["big"], "Biscuit the cat", k=1)] != ["cat"]

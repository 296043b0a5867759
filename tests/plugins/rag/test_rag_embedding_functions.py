"""The ``openai`` and ``ollama`` embedding functions (registered by those plugins) against their fakes."""

from __future__ import annotations

import pytest
from rag_helpers import word_vector

from colonnade.plugins.rag.embedding import EmbeddingError
from colonnade.plugins.rag.service import rag_service

pytestmark = pytest.mark.asyncio


async def test_openai_embeddings_through_the_connection(rag_app, fake_upstream):
    fake = await fake_upstream("openai")
    fake.app.control.api_key = "sk-upstream"
    fake.app.control.embed = word_vector
    app = await rag_app(
        {
            "embedding_function": "openai",
            "embedding_model": "text-embedding-3-small",
            "embedding_batch_size": 2,
        },
        functions=[],
        load_plugins=["openai"],
        extra_config={
            "openai": {"connections": [{"base_url": fake.base_url + "/v1", "api_key": "sk-upstream"}]}
        },
    )
    rag = rag_service(app.extensions["colonnade"])
    assert rag.embedder.key == "openai:text-embedding-3-small"
    await rag.index("notes", [("a", "green apples", {}), ("b", "red cars", {}), ("c", "fast red cars", {})])
    assert [hit.id for hit in await rag.search(["notes"], "apples", k=1)] == ["a"]
    bodies = [request.json() for request in fake.requests if request.path == "/v1/embeddings"]
    assert [body["input"] for body in bodies[1:3]] == [["green apples", "red cars"], ["fast red cars"]]

    rag.embedder.model = "no-such-model"
    with pytest.raises(EmbeddingError) as missing:
        await rag.embedder.embed(["x"])
    assert missing.value.status == 400
    rag.embedder.model = "text-embedding-3-small"
    fake.app.control.fail(503, "overloaded")
    with pytest.raises(EmbeddingError, match="overloaded") as failed:
        await rag.embedder.embed(["x"])
    assert failed.value.status == 502


async def test_ollama_embeddings_through_the_server(rag_app, fake_upstream):
    fake = await fake_upstream("ollama")
    fake.app.ollama.dimensions = 8
    app = await rag_app(
        {"embedding_function": "ollama", "embedding_model": "nomic-embed-text"},
        functions=[],
        load_plugins=["ollama"],
        extra_config={
            "ollama": {"models_cache_ttl": 0, "upstreams": [{"base_url": fake.base_url, "name": "u0"}]}
        },
    )
    rag = rag_service(app.extensions["colonnade"])
    vectors = await rag.embedder.embed(["one", "two"])
    assert vectors == [fake.app.ollama.vector("one"), fake.app.ollama.vector("two")]
    assert await rag.embedder.dimension() == 8
    rag.embedder.model = "missing-model"
    with pytest.raises(EmbeddingError) as missing:
        await rag.embedder.embed(["x"])
    assert missing.value.status == 400

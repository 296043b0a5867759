"""Open WebUI's admin retrieval settings: ``POST /api/v1/retrieval/config/update`` and
``/embedding/update``, stored in the database over the configuration file's values."""

from __future__ import annotations

import contextlib

import pytest
import pytest_asyncio
from rag_helpers import RagTestPlugin, WordEmbeddings, completions_app, upload

from colonnade.plugins.rag import overrides

pytestmark = pytest.mark.asyncio

NOTES = [
    "Cats purr when they are content.",
    "A cat sleeps most of the day.",
    "The cat chased a red ball.",
]
CONFIG = "/api/v1/retrieval/config"
EMBEDDING = "/api/v1/retrieval/embedding"


async def started(rag_app, auth_headers):
    app = await rag_app(functions=[WordEmbeddings(), WordEmbeddings("letters")])
    client = app.test_client()
    admin = await auth_headers(app, role="admin", user_id="admin-id")
    return app, client, admin


async def fill(client, headers) -> None:
    for note in NOTES:
        response = await client.post(
            "/api/v1/retrieval/process/text",
            json={"name": "note", "content": note, "collection_name": "cat-notes"},
            headers=headers,
        )
        assert response.status_code == 200, await response.get_data()


async def found(client, headers) -> list[str]:
    body = {"collection_names": ["cat-notes"], "query": "cat"}
    response = await client.post("/api/v1/retrieval/query/collection", json=body, headers=headers)
    assert response.status_code == 200, await response.get_data()
    return (await response.get_json())["documents"][0]


async def test_an_update_is_answered_by_get_and_used_by_queries(rag_app, auth_headers):
    _, client, admin = await started(rag_app, auth_headers)
    await fill(client, admin)
    assert len(await found(client, admin)) == 3  # the file's top_k
    template = "Use this: {{CONTEXT}}\nQuestion: {{QUERY}}"
    body = {
        "TOP_K": 1,
        "RELEVANCE_THRESHOLD": 0.1,
        "ENABLE_RAG_HYBRID_SEARCH": True,
        "HYBRID_BM25_WEIGHT": 0.25,
        "CHUNK_SIZE": 800,
        "CHUNK_OVERLAP": 80,
        "ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER": False,
        "RAG_TEMPLATE": template,
        # Open WebUI's other settings are not served here: ignored, as absent ones are.
        "TOP_K_RERANKER": 9,
        "web": {"ENABLE_WEB_SEARCH": True},
        "CHUNK_MIN_SIZE_TARGET": None,
    }
    response = await client.post(f"{CONFIG}/update", json=body, headers=admin)
    assert response.status_code == 200, await response.get_data()
    expected = {key: value for key, value in body.items() if key in overrides.CONFIG_FIELDS}
    answered = await response.get_json()
    assert {key: answered[key] for key in expected} == expected
    current = await (await client.get(CONFIG, headers=admin)).get_json()
    assert {key: current[key] for key in expected} == expected
    assert "TOP_K_RERANKER" not in current and "web" not in current
    assert len(await found(client, admin)) == 1

    # Partial: only what is sent changes.
    response = await client.post(f"{CONFIG}/update", json={"TOP_K": 2}, headers=admin)
    assert (await response.get_json())["TOP_K"] == 2
    current = await (await client.get(CONFIG, headers=admin)).get_json()
    assert (current["TOP_K"], current["CHUNK_SIZE"], current["RAG_TEMPLATE"]) == (2, 800, template)
    assert len(await found(client, admin)) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"TOP_K": 0},
        {"TOP_K": "5"},
        {"TOP_K": 2.5},
        {"TOP_K": True},
        {"RELEVANCE_THRESHOLD": 1.5},
        {"ENABLE_RAG_HYBRID_SEARCH": "yes"},
        {"HYBRID_BM25_WEIGHT": -0.1},
        {"CHUNK_SIZE": 10},
        {"CHUNK_OVERLAP": 1000},
        {"CHUNK_SIZE": 500, "CHUNK_OVERLAP": 600},
        {"RAG_TEMPLATE": "no placeholder"},
        {"RAG_TEMPLATE": 7},
        {"TOP_K": 5, "RELEVANCE_THRESHOLD": 2},  # one bad value: nothing changes
    ],
)
async def test_an_invalid_value_is_400_and_changes_nothing(rag_app, auth_headers, body):
    _, client, admin = await started(rag_app, auth_headers)
    before = await (await client.get(CONFIG, headers=admin)).get_json()
    response = await client.post(f"{CONFIG}/update", json=body, headers=admin)
    assert response.status_code == 400
    detail = (await response.get_json())["detail"]
    assert isinstance(detail, str) and detail
    assert await (await client.get(CONFIG, headers=admin)).get_json() == before
    from colonnade.plugins.rag.models import RagSetting

    assert not await RagSetting.filter(version__gt=0).exists()


async def test_a_body_that_is_not_an_object_is_400(rag_app, auth_headers):
    _, client, admin = await started(rag_app, auth_headers)
    for path in (f"{CONFIG}/update", f"{EMBEDDING}/update"):
        response = await client.post(path, json=[1, 2], headers=admin)
        assert response.status_code == 400
        response = await client.post(path, data=b"{not json", headers=admin)
        assert response.status_code == 400


async def test_only_admins_read_and_change_the_settings(rag_app, auth_headers):
    _, client, _ = await started(rag_app, auth_headers)
    user = await auth_headers(client.app, role="user")
    for path in (CONFIG, EMBEDDING):
        assert (await client.get(path, headers=user)).status_code == 403
        response = await client.post(f"{path}/update", json={"TOP_K": 1}, headers=user)
        assert response.status_code == 403
        assert (await client.post(f"{path}/update", json={"TOP_K": 1})).status_code == 401


async def test_the_embedding_update_switches_the_function_and_old_collections_say_so(rag_app, auth_headers):
    app, client, admin = await started(rag_app, auth_headers)
    await fill(client, admin)
    current = await (await client.get(EMBEDDING, headers=admin)).get_json()
    assert (current["RAG_EMBEDDING_ENGINE"], current["RAG_EMBEDDING_MODEL"]) == ("words", "bag-of-words")
    body = {
        "RAG_EMBEDDING_ENGINE": "letters",
        "RAG_EMBEDDING_MODEL": "letter-bag",
        "RAG_EMBEDDING_BATCH_SIZE": 4,
        "openai_config": {"url": "http://example.test", "key": "sk-not-kept"},
    }
    response = await client.post(f"{EMBEDDING}/update", json=body, headers=admin)
    assert response.status_code == 200, await response.get_data()
    answered = await response.get_json()
    assert (answered["RAG_EMBEDDING_ENGINE"], answered["RAG_EMBEDDING_MODEL"]) == ("letters", "letter-bag")
    assert answered["RAG_EMBEDDING_BATCH_SIZE"] == 4
    assert "sk-not-kept" not in str(answered)
    assert await (await client.get(EMBEDDING, headers=admin)).get_json() == answered
    # The collection filled with the old embedding refuses the new one, naming both.
    body = {"collection_names": ["cat-notes"], "query": "cat"}
    response = await client.post("/api/rag/query", json=body, headers=admin)
    assert response.status_code == 409, await response.get_data()
    assert "words:bag-of-words" in (await response.get_json())["detail"]
    # New texts are embedded with the new function.
    letters = app.extensions["colonnade"].state("rag").service.functions["letters"]
    response = await client.post(
        "/api/v1/retrieval/process/text",
        json={"content": "A new note.", "collection_name": "new"},
        headers=admin,
    )
    assert response.status_code == 200 and ["A new note."] in letters.calls
    # Open WebUI's "" is the local model.
    response = await client.post(f"{EMBEDDING}/update", json={"RAG_EMBEDDING_ENGINE": ""}, headers=admin)
    assert response.status_code == 200
    assert (await response.get_json())["RAG_EMBEDDING_ENGINE"] == ""
    assert app.extensions["colonnade"].state("rag").service.embedder.name == "local"


@pytest.mark.parametrize(
    "body",
    [
        {"RAG_EMBEDDING_ENGINE": "azure_openai"},
        {"RAG_EMBEDDING_ENGINE": 5},
        {"RAG_EMBEDDING_MODEL": ""},
        {"RAG_EMBEDDING_BATCH_SIZE": 0},
        {"RAG_EMBEDDING_ENGINE": "letters", "RAG_EMBEDDING_BATCH_SIZE": 100_000},
    ],
)
async def test_an_invalid_embedding_is_400_and_changes_nothing(rag_app, auth_headers, body):
    _, client, admin = await started(rag_app, auth_headers)
    before = await (await client.get(EMBEDDING, headers=admin)).get_json()
    response = await client.post(f"{EMBEDDING}/update", json=body, headers=admin)
    assert response.status_code == 400, await response.get_data()
    assert await (await client.get(EMBEDDING, headers=admin)).get_json() == before


@contextlib.asynccontextmanager
async def running(base_config, rag: dict | None = None):
    """An app on the test's database, stopped on leaving (``make_app`` keeps its apps to the end,
    and one process holds one Tortoise context at a time: a restart is a stop, then a start)."""
    from colonnade.app import create_app
    from colonnade.settings import Settings
    from colonnade.testing import deep_merge

    rag = {"embedding_function": "words", "embedding_model": "bag-of-words", **(rag or {})}
    config = deep_merge(base_config, {"plugins": {"rag": rag}, "host": {"load_plugins": ["rag"]}})
    plugin = RagTestPlugin([WordEmbeddings(), WordEmbeddings("letters")])
    app = create_app(Settings.from_dict(config), plugins=[plugin], testing=True)
    test_app = app.test_app()
    await test_app.__aenter__()
    try:
        yield app
    finally:
        await test_app.__aexit__(None, None, None)


@pytest_asyncio.fixture
async def dropped_schema(base_config):
    """Drops the test's PostgreSQL schema at the end (``make_app`` does it for its own apps)."""
    yield
    if base_config["database"].get("schema_name"):
        from colonnade import db
        from colonnade.settings import Settings

        await db.drop_postgres_schema(Settings.from_dict(base_config))


async def test_changes_survive_a_restart(base_config, auth_headers, dropped_schema):
    async with running(base_config) as first:
        admin = await auth_headers(first, role="admin")
        client = first.test_client()
        response = await client.post(f"{CONFIG}/update", json={"TOP_K": 7, "CHUNK_SIZE": 600}, headers=admin)
        assert response.status_code == 200
        response = await client.post(
            f"{EMBEDDING}/update", json={"RAG_EMBEDDING_ENGINE": "letters"}, headers=admin
        )
        assert response.status_code == 200
    async with running(base_config) as second:
        client = second.test_client()
        admin = await auth_headers(second, role="admin")
        current = await (await client.get(CONFIG, headers=admin)).get_json()
        assert (current["TOP_K"], current["CHUNK_SIZE"], current["CHUNK_OVERLAP"]) == (7, 600, 100)
        embedding = await (await client.get(EMBEDDING, headers=admin)).get_json()
        assert embedding["RAG_EMBEDDING_ENGINE"] == "letters"
        assert second.extensions["colonnade"].state("rag").ingestor.config.chunk_size == 600
    # Restarted with a larger chunk_overlap in the file, which the stored chunk_size cannot hold:
    # the stored settings are not applied (logged), the file's values hold, whole.
    async with running(base_config, {"chunk_size": 700, "chunk_overlap": 650}) as third:
        rag = third.extensions["colonnade"].state("rag").service
        assert (rag.config.top_k, rag.config.chunk_size, rag.config.chunk_overlap) == (3, 700, 650)
        assert rag.embedder.name == "words"


async def test_a_change_made_by_another_worker_is_used_on_the_next_request(
    rag_app, auth_headers, monkeypatch
):
    """Another worker shares only the database: write the row as it would."""
    from colonnade.plugins.rag.models import RagSetting

    _, client, admin = await started(rag_app, auth_headers)
    await fill(client, admin)
    assert len(await found(client, admin)) == 3
    await RagSetting.create(id=overrides.ROW_ID, overrides={"top_k": 1}, version=5)
    monkeypatch.setattr(overrides, "RECHECK_SECONDS", 0.0)  # instead of waiting for the next look
    assert len(await found(client, admin)) == 1
    assert (await (await client.get(CONFIG, headers=admin)).get_json())["TOP_K"] == 1


async def test_a_completion_uses_the_new_top_k(rag_app, fake_upstream, auth_headers):
    app, _fake = await completions_app(rag_app, fake_upstream)
    client = app.test_client()
    admin = await auth_headers(app, role="admin")
    files = [
        await upload(client, admin, f"note{number}.txt", note.encode(), "text/plain")
        for number, note in enumerate(NOTES)
    ]
    await app.extensions["colonnade"].state("rag").ingestor.drain()
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What does the cat do?"}],
        "files": [{"type": "file", "id": record["id"]} for record in files],
    }

    async def sources() -> int:
        response = await client.post("/api/chat/completions", json=body, headers=admin)
        assert response.status_code == 200, await response.get_data()
        return len((await response.get_json())["sources"])

    assert await sources() == 3
    response = await client.post(f"{CONFIG}/update", json={"TOP_K": 1}, headers=admin)
    assert response.status_code == 200
    assert await sources() == 1

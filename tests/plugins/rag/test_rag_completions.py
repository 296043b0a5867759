"""Context injection into ``/api/chat/completions`` with the fake OpenAI upstream for chat and embeddings.

Covers the ``completion_inlet`` (retrieve and inject with the RAG template), the stream wrapper (the
leading ``sources`` event) and the outlet (the ``sources`` field) of the rag plugin.
"""

from __future__ import annotations

import json

import pytest
from rag_helpers import completions_app, upload

pytestmark = pytest.mark.asyncio

CATS = "Cats sleep for most of the day. A cat purrs when it is content."
TAXES = "Tax returns are due in April. Late filing brings a penalty."
QUESTION = "Why does my cat purr?"


async def chat_app(rag_app, fake_upstream, auth_headers, **rag_config):
    app, fake = await completions_app(rag_app, fake_upstream, **rag_config)
    client = app.test_client()
    alice = await auth_headers(app, role="admin")
    records = [
        await upload(client, alice, "cats.txt", CATS.encode(), "text/plain"),
        await upload(client, alice, "taxes.txt", TAXES.encode(), "text/plain"),
    ]
    await app.extensions["colonnade"].state("rag").ingestor.drain()
    return app, client, fake, alice, records


def sent_messages(fake) -> list[dict]:
    chats = [request for request in fake.requests if request.path == "/v1/chat/completions"]
    return chats[-1].json()["messages"]


async def test_hook_completion_inlet_injects_the_attached_files(rag_app, fake_upstream, auth_headers):
    _app, client, fake, alice, (cats, taxes) = await chat_app(rag_app, fake_upstream, auth_headers, top_k=1)
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}],
        "files": [
            {"type": "file", "id": cats["id"], "name": "cats.txt"},
            {"type": "file", "id": taxes["id"]},
        ],
    }
    response = await client.post("/api/chat/completions", json=body, headers=alice)
    assert response.status_code == 200, await response.get_data()
    answer = await response.get_json()
    sent = sent_messages(fake)
    assert sent[0] == {"role": "system", "content": "Be brief."}
    user = sent[-1]["content"]
    assert (
        f'<source id="1" name="cats.txt" resource-type="file" resource-id="{cats["id"]}">{CATS}</source>'
        in user
    )
    assert "<user_query>\nWhy does my cat purr?\n</user_query>" in user and user.endswith(QUESTION)
    assert "[1]" in user  # the template asks for citations
    # The answer cites its sources the way Open WebUI does.
    sources = answer["sources"]
    assert [source["source"]["id"] for source in sources] == [cats["id"]]  # the best top_k over both files
    assert TAXES not in user
    assert sources[0]["document"] == [CATS] and sources[0]["metadata"][0]["file_id"] == cats["id"]
    assert 0 < sources[0]["distances"][0] <= 1


async def test_hook_completion_stream_wrapper_sends_the_sources_first(rag_app, fake_upstream, auth_headers):
    _app, client, _fake, alice, (cats, _) = await chat_app(rag_app, fake_upstream, auth_headers)
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [{"role": "user", "content": QUESTION}],
        "files": [{"type": "file", "id": cats["id"]}],
    }
    response = await client.post("/api/chat/completions", json=body, headers=alice)
    assert response.status_code == 200
    events = [
        line[len("data: ") :]
        for line in (await response.get_data(as_text=True)).split("\n\n")
        if line.startswith("data: ")
    ]
    first = json.loads(events[0])
    assert list(first) == ["sources"] and first["sources"][0]["document"] == [CATS]
    assert "choices" in json.loads(events[1]) and events[-1] == "[DONE]"


async def test_hook_completion_outlet_adds_no_sources_without_attachments(
    rag_app, fake_upstream, auth_headers
):
    _app, client, fake, alice, _ = await chat_app(rag_app, fake_upstream, auth_headers)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": QUESTION}]}
    answer = await (await client.post("/api/chat/completions", json=body, headers=alice)).get_json()
    assert "sources" not in answer
    assert sent_messages(fake) == [{"role": "user", "content": QUESTION}]


async def test_knowledge_attached_to_a_workspace_model(rag_app, fake_upstream, auth_headers):
    app, client, fake, alice, (cats, _taxes) = await chat_app(
        rag_app, fake_upstream, auth_headers, system_context=True
    )
    knowledge = await (await client.post("/api/knowledge", json={"name": "Pets"}, headers=alice)).get_json()
    await client.post(
        f"/api/v1/knowledge/{knowledge['id']}/file/add", json={"file_id": cats["id"]}, headers=alice
    )
    model = {
        "id": "pet-helper",
        "name": "Pet helper",
        "base_model_id": "gpt-4o-mini",
        "params": {},
        "meta": {"knowledge": [{"id": knowledge["id"], "name": "Pets", "type": "collection"}]},
        "access_control": None,
    }
    assert (await client.post("/api/models", json=model, headers=alice)).status_code == 200
    bob = await auth_headers(app)  # the model is public: its knowledge comes with it
    body = {"model": "pet-helper", "messages": [{"role": "user", "content": QUESTION}]}
    answer = await (await client.post("/api/chat/completions", json=body, headers=bob)).get_json()
    sent = sent_messages(fake)
    assert (
        sent[0]["role"] == "system"
        and CATS in sent[0]["content"]
        and 'resource-type="collection"' in sent[0]["content"]
    )
    assert sent[-1] == {"role": "user", "content": QUESTION}
    assert answer["sources"][0]["source"]["id"] == knowledge["id"]

    # Deleting the knowledge base takes it out of the model too.
    assert (await client.delete(f"/api/knowledge/{knowledge['id']}", headers=alice)).status_code == 200
    listed = await (await client.get("/api/v1/models/model?id=pet-helper", headers=alice)).get_json()
    assert listed["meta"]["knowledge"] == []


async def test_another_users_files_are_not_injected(rag_app, fake_upstream, auth_headers):
    app, client, fake, _alice, (cats, _) = await chat_app(rag_app, fake_upstream, auth_headers)
    bob = await auth_headers(app)
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": QUESTION}],
        "files": [{"type": "file", "id": cats["id"]}],
    }
    answer = await (await client.post("/api/chat/completions", json=body, headers=bob)).get_json()
    assert "sources" not in answer
    assert CATS not in json.dumps(sent_messages(fake))

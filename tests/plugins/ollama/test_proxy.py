"""The ``/ollama`` proxy driven by the real ``ollama`` SDK, against fake Ollama servers on loopback."""

from __future__ import annotations

import json

import ollama
import pytest
import pytest_asyncio


def headers_of(recorded) -> dict[str, str]:
    return {key.lower(): value for key, value in recorded.headers.items()}


def sdk(served, headers) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=served.ollama_url, headers=headers)


@pytest_asyncio.fixture
async def one_upstream(serve_app, fake_upstream, auth_headers, ollama_config):
    fake = await fake_upstream("ollama")
    served = await serve_app(ollama_config(fake))
    return fake, served, sdk(served, await auth_headers(served.app))


@pytest.mark.asyncio
async def test_chat_streams_through_the_sdk(one_upstream):
    fake, _served, client = one_upstream
    stream = await client.chat(
        model="llama3.2",
        messages=[{"role": "user", "content": "hi", "images": ["aGVsbG8="]}],
        stream=True,
        options={"temperature": 0.1},
    )
    parts = [part async for part in stream]
    assert [part.message.content for part in parts] == ["Hello", " from", " Ollama", ""]
    assert parts[-1].done and parts[-1].eval_count == 3 and parts[-1].done_reason == "stop"
    forwarded = fake.requests[-1]
    assert (forwarded.method, forwarded.path) == ("POST", "/api/chat")
    body = forwarded.json()
    # the model as the upstream names it; everything else untouched
    assert body["model"] == "llama3.2:latest"
    assert body["options"] == {"temperature": 0.1}
    assert body["messages"] == [{"role": "user", "content": "hi", "images": ["aGVsbG8="]}]
    assert "authorization" not in {key.lower() for key in forwarded.headers}  # our token stays here


@pytest.mark.asyncio
async def test_chat_and_generate_without_streaming(one_upstream):
    fake, _served, client = one_upstream
    fake.app.ollama.reply_with(["four"])
    answer = await client.chat(model="llama3.2:latest", messages=[{"role": "user", "content": "2+2?"}])
    assert answer.message.content == "four" and answer.done and answer.prompt_eval_count == 1
    generated = await client.generate(model="llama3.2", prompt="say four", stream=False)
    assert generated.response == "four" and generated.context == [1, 2, 3]
    assert fake.requests[-1].json()["stream"] is False


@pytest.mark.asyncio
async def test_generate_streams(one_upstream):
    fake, _served, client = one_upstream
    parts = [part async for part in await client.generate(model="llama3.2", prompt="hi", stream=True)]
    assert "".join(part.response for part in parts) == "Hello from Ollama"
    assert parts[-1].done and fake.requests[-1].path == "/api/generate"


@pytest.mark.asyncio
async def test_embed_embeddings_and_show(one_upstream):
    fake, _served, client = one_upstream
    embedded = await client.embed(model="nomic-embed-text", input=["a", "b c"])
    assert len(embedded.embeddings) == 2 and len(embedded.embeddings[0]) == 4
    assert fake.requests[-1].json() == {"model": "nomic-embed-text:latest", "input": ["a", "b c"]}
    legacy = await client.embeddings(model="nomic-embed-text", prompt="a")
    assert legacy.embedding == embedded.embeddings[0]
    shown = await client.show("llama3.2")
    assert shown.modelfile.startswith("FROM llama3.2:latest") and shown.details.family == "llama"


@pytest.mark.asyncio
async def test_tags_and_version(one_upstream):
    _fake, served, client = one_upstream
    listed = await client.list()
    assert [model.model for model in listed.models] == ["llama3.2:latest", "nomic-embed-text:latest"]
    assert listed.models[0].details.parameter_size == "3.2B"
    import httpx

    async with httpx.AsyncClient(base_url=served.ollama_url, headers=client._client.headers) as http:
        raw = (await http.get("/api/tags")).json()["models"][0]
        assert raw["urls"] == [0] and raw["connection_type"] == "local"
        assert (await http.get("/api/version")).json() == {"version": "0.6.5"}
        assert (await http.get("/")).json() == {"status": True}


@pytest.mark.asyncio
async def test_several_upstreams_route_by_model(serve_app, fake_upstream, auth_headers, ollama_config):
    local = await fake_upstream("ollama")
    remote = await fake_upstream("ollama")
    filtered = await fake_upstream("ollama")
    remote.app.ollama.models = [
        local.app.ollama.models[0],
        {**local.app.ollama.models[0], "name": "qwen3:8b", "model": "qwen3:8b"},
    ]
    remote.app.ollama.version = "0.5.10"
    remote.app.ollama.reply_with(["from remote"])
    filtered.app.ollama.models = [
        {**local.app.ollama.models[0], "name": "phi4:latest", "model": "phi4:latest"},
        local.app.ollama.models[1],
    ]
    served = await serve_app(
        ollama_config(
            local,
            {"base_url": remote.base_url, "prefix_id": "remote", "api_key": "sk-upstream-secret"},
            {"base_url": filtered.base_url, "model_ids": ["phi4:latest"]},
        )
    )
    client = sdk(served, await auth_headers(served.app))
    names = sorted(model.model for model in (await client.list()).models)
    assert names == [
        "llama3.2:latest",
        "nomic-embed-text:latest",
        "phi4:latest",
        "remote.llama3.2:latest",
        "remote.qwen3:8b",
    ]

    answer = await client.chat(model="remote.qwen3:8b", messages=[{"role": "user", "content": "x"}])
    assert answer.message.content == "from remote"
    forwarded = remote.requests[-1]
    assert forwarded.path == "/api/chat" and forwarded.json()["model"] == "qwen3:8b"
    assert headers_of(forwarded)["authorization"] == "Bearer sk-upstream-secret"
    assert "authorization" not in {key.lower() for key in local.requests[-1].headers}

    await client.chat(model="phi4", messages=[{"role": "user", "content": "x"}])
    assert filtered.requests[-1].path == "/api/chat"
    with pytest.raises(ollama.ResponseError) as raised:  # served by "filtered", but filtered out
        await client.embed(model="nomic-embed-text-on-filtered-only", input="x")
    assert raised.value.status_code == 404

    import httpx

    async with httpx.AsyncClient(base_url=served.ollama_url, headers=client._client.headers) as http:
        assert (await http.get("/api/version")).json() == {"version": "0.5.10"}
        assert (await http.get("/api/version/0")).json() == {"version": "0.6.5"}
        by_index = (await http.get("/api/tags/1")).json()["models"]
        assert [entry["name"] for entry in by_index] == ["remote.llama3.2:latest", "remote.qwen3:8b"]
        response = await http.post("/api/chat/0", json={"model": "remote.qwen3:8b", "messages": []})
        assert response.status_code == 404  # upstream 0 has no prefix "remote"
        assert response.json() == {"detail": "Model 'remote.qwen3:8b' was not found"}
        response = await http.get("/api/tags/7")
        assert response.status_code == 404
        assert "sk-upstream-secret" not in (await http.get("/api/tags")).text
        remote.app.ollama.fail("/api/chat", 401, "invalid key sk-upstream-secret")
        response = await http.post("/api/chat", json={"model": "remote.qwen3:8b", "messages": []})
        assert response.status_code == 401
        assert response.json() == {"detail": "Ollama upstream 'u1': invalid key ***"}


@pytest.mark.asyncio
async def test_access_needs_a_user(serve_app, fake_upstream, auth_headers, ollama_config):
    import httpx

    fake = await fake_upstream("ollama")
    served = await serve_app(ollama_config(fake))
    async with httpx.AsyncClient(base_url=served.ollama_url) as http:
        response = await http.get("/api/tags")
        assert response.status_code == 401 and response.json()["detail"] == "Not authenticated"
        pending = await auth_headers(served.app, role="pending")
        assert (await http.post("/api/chat", json={"model": "llama3.2"}, headers=pending)).status_code == 403
    assert fake.requests == []


@pytest.mark.asyncio
async def test_disabled_and_unconfigured(serve_app, auth_headers):
    import httpx

    served = await serve_app({"plugins": {"ollama": {"enable": False}}})
    headers = await auth_headers(served.app)
    async with httpx.AsyncClient(base_url=served.ollama_url, headers=headers) as http:
        response = await http.get("/api/tags")
        assert response.status_code == 503 and "disabled" in response.json()["detail"]


@pytest.mark.asyncio
async def test_bad_bodies_are_4xx(one_upstream):
    import httpx

    fake, served, client = one_upstream
    async with httpx.AsyncClient(base_url=served.ollama_url, headers=client._client.headers) as http:
        response = await http.post("/api/chat", content=b"{not json")
        assert response.status_code == 400 and "Malformed JSON" in response.json()["detail"]
        response = await http.post("/api/chat", json=["a"])
        assert response.status_code == 422
        response = await http.post("/api/chat", json={"messages": []})
        assert response.status_code == 422 and "'model'" in response.json()["detail"]
    assert all(request.path == "/api/tags" for request in fake.requests)


@pytest.mark.asyncio
async def test_lines_split_on_newlines_only(one_upstream):
    """U+0085 and U+2028 are line breaks to ``str.splitlines`` but may sit raw inside JSON strings (Go
    leaves U+0085 unescaped). The ``ollama`` SDK itself splits that way, so this reads raw bytes."""
    import httpx

    fake, served, client = one_upstream
    fake.app.ollama.reply_with(["a\x85b", "c\u2028d", "e\nf"])
    async with httpx.AsyncClient(base_url=served.ollama_url, headers=client._client.headers) as http:
        response = await http.post("/api/chat", json={"model": "llama3.2", "messages": []})
    lines = [json.loads(line) for line in response.content.split(b"\n") if line]
    assert "".join(line["message"]["content"] for line in lines) == "a\x85bc\u2028de\nf"
    assert lines[-1]["done"] is True

"""Upstream failures: every one is a prompt JSON error naming the upstream (or an error line once a
stream has started), and a client that goes away stops the upstream."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import ollama
import pytest
import pytest_asyncio

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}


@pytest_asyncio.fixture
async def proxy(serve_app, fake_upstream, auth_headers, ollama_config):
    """``(fake, http)``: one fake upstream named "u0" and an httpx client for ``/ollama``."""
    fake = await fake_upstream("ollama")
    # A port bound but not listening refuses connections, and nobody else can take it meanwhile.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}"
        served = await serve_app(ollama_config(fake, {"base_url": down, "name": "down"}))
        headers = await auth_headers(served.app)
        async with httpx.AsyncClient(base_url=served.ollama_url, headers=headers, timeout=30) as http:
            yield fake, http


@pytest.mark.asyncio
async def test_upstream_4xx_passes_through_and_5xx_is_502(proxy):
    fake, http = proxy
    fake.app.ollama.fail("/api/chat", 400, "invalid options: num_ctx")
    response = await http.post("/api/chat", json=CHAT)
    assert response.status_code == 400
    assert response.json() == {"detail": "Ollama upstream 'u0': invalid options: num_ctx"}
    fake.app.ollama.fail("/api/chat", 500, "llama runner process has terminated")
    response = await http.post("/api/chat", json={**CHAT, "stream": False})
    assert response.status_code == 502
    assert response.json()["detail"] == "Ollama upstream 'u0': llama runner process has terminated"


@pytest.mark.asyncio
async def test_an_unreachable_upstream_is_502_and_the_others_still_serve(proxy):
    _fake, http = proxy
    tags = await http.get("/api/tags")
    assert tags.status_code == 200
    assert [m["name"] for m in tags.json()["models"]] == ["llama3.2:latest", "nomic-embed-text:latest"]
    response = await http.get("/api/tags/1")
    assert response.status_code == 502
    assert response.json() == {"detail": "Ollama upstream 'down' is unreachable (ConnectError)"}
    response = await http.get("/api/version")  # the lowest version needs every upstream
    assert response.status_code == 502 and "'down'" in response.json()["detail"]
    # a model only the unreachable one could serve: its failure, not a 404
    response = await http.post("/api/chat", json={**CHAT, "model": "mistral"})
    assert response.status_code == 502 and "'down' is unreachable" in response.json()["detail"]


@pytest.mark.asyncio
async def test_unknown_model_is_404_through_the_sdk(serve_app, fake_upstream, auth_headers, ollama_config):
    fake = await fake_upstream("ollama")
    served = await serve_app(ollama_config(fake))
    client = ollama.AsyncClient(host=served.ollama_url, headers=await auth_headers(served.app))
    with pytest.raises(ollama.ResponseError) as raised:
        await client.chat(model="nope", messages=[])
    assert raised.value.status_code == 404
    assert json.loads(raised.value.error) == {"detail": "Model 'nope' was not found"}


@pytest.mark.asyncio
async def test_malformed_streams(proxy):
    fake, http = proxy
    fake.app.ollama.malformed_at = 0
    response = await http.post("/api/chat", json=CHAT)
    assert response.status_code == 502
    assert response.json() == {"detail": "Ollama upstream 'u0' sent a malformed stream (a line is not JSON)"}

    fake.app.ollama.malformed_at = 2  # after the status was sent: an error line ends the stream
    response = await http.post("/api/chat", json=CHAT)
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-ndjson"
    assert [line["message"]["content"] for line in lines[:2]] == ["Hello", " from"]
    assert lines[2:] == [{"error": "Ollama upstream 'u0' sent a malformed stream (a line is not JSON)"}]

    fake.app.ollama.malformed_at = None
    fake.app.ollama.truncate = True
    lines = [
        json.loads(line)
        for line in (await http.post("/api/generate", json=CHAT | {"prompt": "x"})).text.splitlines()
    ]
    assert lines[-1] == {"error": "Ollama upstream 'u0' ended the stream before it was done"}
    assert len(lines) == 4


@pytest.mark.asyncio
async def test_a_broken_stream_raises_in_the_sdk(serve_app, fake_upstream, auth_headers, ollama_config):
    fake = await fake_upstream("ollama")
    served = await serve_app(ollama_config(fake))
    client = ollama.AsyncClient(host=served.ollama_url, headers=await auth_headers(served.app))
    fake.app.ollama.truncate = True
    received = []
    with pytest.raises(ollama.ResponseError, match="ended the stream before it was done"):
        async for part in await client.chat(**CHAT, stream=True):
            received.append(part.message.content)
    assert received == ["Hello", " from", " Ollama"]


@pytest.mark.asyncio
async def test_a_silent_upstream_is_504(serve_app, fake_upstream, auth_headers, ollama_config):
    fake = await fake_upstream("ollama")
    # The upstream never sends its first line (the stall is never released): the read timeout ends it.
    served = await serve_app(ollama_config({"base_url": fake.base_url, "timeout": 0.2}))
    fake.app.ollama.stall = asyncio.Event()
    fake.app.ollama.stall_after = 0
    async with httpx.AsyncClient(base_url=served.ollama_url, headers=await auth_headers(served.app)) as http:
        response = await http.post("/api/chat", json=CHAT)
    assert response.status_code == 504
    assert response.json() == {"detail": "Ollama upstream 'u0' timed out (ReadTimeout)"}
    fake.app.ollama.stall.set()


@pytest.mark.asyncio
async def test_a_client_that_goes_away_cancels_the_upstream_stream(proxy):
    fake, http = proxy
    script = fake.app.ollama
    script.stall = asyncio.Event()  # the upstream sends one line, then waits
    async with http.stream("POST", "/api/chat", json=CHAT) as response:
        assert response.status_code == 200
        lines = response.aiter_lines()
        first = json.loads(await anext(lines))
        assert first["message"]["content"] == "Hello"
        await asyncio.wait_for(script.stalled.wait(), 10)
    # leaving the block closed our connection mid-stream; the proxy must close the upstream one
    await asyncio.wait_for(script.cancelled.wait(), 10)
    assert not script.finished.is_set()


@pytest.mark.asyncio
async def test_a_client_that_goes_away_cancels_a_whole_answer_too(proxy):
    fake, http = proxy
    script = fake.app.ollama
    script.stall = asyncio.Event()
    script.stall_after = 0  # the upstream holds its (non-streamed) answer
    waiting = asyncio.create_task(http.post("/api/generate", json={**CHAT, "prompt": "x", "stream": False}))
    await asyncio.wait_for(script.stalled.wait(), 10)
    waiting.cancel()  # our client gives up: its connection closes
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(script.cancelled.wait(), 10)

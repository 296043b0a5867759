"""Ollama models through the completions feature: ``/api/models`` and ``/api/chat/completions`` driven by
the real ``openai`` SDK, translated to and from a fake Ollama server on loopback."""

from __future__ import annotations

import httpx
import openai
import pytest

pytestmark = pytest.mark.asyncio


async def served_with_completions(serve_app, fake_upstream, auth_headers, ollama_config):
    fake = await fake_upstream("ollama")
    served = await serve_app(
        ollama_config({"base_url": fake.base_url, "prefix_id": "ol"}), load_plugins=["ollama", "completions"]
    )
    headers = await auth_headers(served.app, role="admin")
    sdk = openai.AsyncOpenAI(
        base_url=f"{served.base_url}/api", api_key=headers["Authorization"].removeprefix("Bearer ")
    )
    return fake, served, headers, sdk


async def test_models_are_listed_and_answer_in_openai_format(
    serve_app, fake_upstream, auth_headers, ollama_config
):
    fake, served, headers, sdk = await served_with_completions(
        serve_app, fake_upstream, auth_headers, ollama_config
    )
    async with httpx.AsyncClient(base_url=served.base_url, headers=headers) as http:
        listed = (await http.get("/api/models")).json()["data"]
    ollama_models = {model["id"]: model for model in listed if model["owned_by"] == "ollama"}
    assert set(ollama_models) == {"ol.llama3.2:latest", "ol.nomic-embed-text:latest"}
    assert ollama_models["ol.llama3.2:latest"]["ollama"]["urls"] == [0]

    fake.app.ollama.reply_with(["Four", "."])
    answer = await sdk.chat.completions.create(
        model="ol.llama3.2:latest",
        messages=[{"role": "user", "content": "2+2?"}],
        temperature=0,
        max_tokens=5,
    )
    assert answer.choices[0].message.content == "Four."
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.completion_tokens == 2
    sent = fake.requests[-1].json()
    assert sent["model"] == "llama3.2:latest" and sent["stream"] is False
    assert sent["options"] == {"temperature": 0, "num_predict": 5}

    stream = await sdk.chat.completions.create(
        model="ol.llama3.2:latest", messages=[{"role": "user", "content": "again"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Four."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert fake.requests[-1].json()["stream"] is True


async def test_an_upstream_failure_keeps_its_status(serve_app, fake_upstream, auth_headers, ollama_config):
    fake, _served, _headers, sdk = await served_with_completions(
        serve_app, fake_upstream, auth_headers, ollama_config
    )
    fake.app.ollama.fail("/api/chat", 500, "llama runner crashed")
    with pytest.raises(openai.APIStatusError) as caught:
        await sdk.chat.completions.create(model="ol.llama3.2:latest", messages=[], stream=True)
    assert caught.value.status_code == 502
    assert "Ollama upstream 'u0': llama runner crashed" in caught.value.response.text

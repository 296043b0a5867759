"""``/ollama/api/pull``: admins only, progress relayed line by line, the new model listed at once."""

from __future__ import annotations

import httpx
import ollama
import pytest


@pytest.mark.asyncio
async def test_pull_is_admin_only_and_streams_progress(serve_app, fake_upstream, auth_headers, ollama_config):
    first = await fake_upstream("ollama")
    second = await fake_upstream("ollama")
    served = await serve_app(
        ollama_config(first, {"base_url": second.base_url, "prefix_id": "gpu"}, models_cache_ttl=60)
    )
    user = ollama.AsyncClient(host=served.ollama_url, headers=await auth_headers(served.app))
    admin = ollama.AsyncClient(host=served.ollama_url, headers=await auth_headers(served.app, role="admin"))
    assert "gemma3:1b" not in [model.model for model in (await admin.list()).models]  # now cached 60 s

    with pytest.raises(ollama.ResponseError) as raised:
        await user.pull("gemma3:1b")
    assert raised.value.status_code == 403
    assert all(request.path != "/api/pull" for request in first.requests)

    progress = [part async for part in await admin.pull("gemma3:1b", stream=True)]
    assert progress[0].status == "pulling manifest"
    assert progress[-1].status == "success"
    assert progress[1].total == 2_000_000 and progress[2].completed == 2_000_000
    assert first.requests[-1].json()["model"] == "gemma3:1b"
    assert "gemma3:1b" in [model.model for model in (await user.list()).models]

    # onto the second upstream, by index, with its prefix stripped; stream=false waits for the end
    async with httpx.AsyncClient(base_url=served.ollama_url, headers=admin._client.headers) as http:
        response = await http.post("/api/pull/1", json={"model": "gpu.qwen3:0.6b", "stream": False})
    assert response.json() == {"status": "success"}
    assert second.requests[-1].json() == {"model": "qwen3:0.6b", "stream": False}
    answer = await user.chat(model="gpu.qwen3:0.6b", messages=[{"role": "user", "content": "hi"}])
    assert answer.message.content == "Hello from Ollama"

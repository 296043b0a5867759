"""Several connections: merged model list, routing by prefix, fixed model lists, Azure's URL shape."""

from __future__ import annotations

import httpx
import pytest
from openai_helpers import UPSTREAM_KEY, connection, posts

pytestmark = pytest.mark.asyncio


async def test_two_upstreams_merge_their_models_and_each_gets_its_own(proxy, upstream, fake_upstream):
    second = await fake_upstream("openai")
    second.app.control.api_key = "sk-second"
    second.app.control.models = ["llama-3"]
    second.app.control.reply = "from the second"
    running = await proxy(
        [
            connection(upstream, prefix_id="one", name="first", tags=["cloud"]),
            {"base_url": second.base_url + "/v1", "api_key": "sk-second", "prefix_id": "two"},
        ]
    )
    async with httpx.AsyncClient(base_url=running.url) as http:
        listed = (await http.get("/openai/models", headers=running.user)).json()["data"]
        assert [(m["id"], m["urlIdx"], m["owned_by"]) for m in listed] == [
            ("one.gpt-4o-mini", 0, "openai"),
            ("one.text-embedding-3-small", 0, "openai"),
            ("two.llama-3", 1, "openai"),
        ]
        assert listed[0]["tags"] == [{"name": "cloud"}] and listed[0]["openai"]["id"] == "gpt-4o-mini"

    sdk = running.sdk()
    answer = await sdk.chat.completions.create(
        model="two.llama-3", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "from the second"
    await sdk.chat.completions.create(model="one.gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert [(s.json()["model"], s.headers["Authorization"]) for s in posts(second)] == [
        ("llama-3", "Bearer sk-second")
    ]
    assert [(s.json()["model"], s.headers["Authorization"]) for s in posts(upstream)] == [
        ("gpt-4o-mini", f"Bearer {UPSTREAM_KEY}")
    ]


async def test_an_unknown_model_is_404_and_nothing_is_forwarded(proxy, upstream):
    import openai

    running = await proxy([connection(upstream, prefix_id="one")])
    for model in ("gpt-4o-mini", "one.nope", "two.gpt-4o-mini"):  # unprefixed, unknown, wrong prefix
        with pytest.raises(openai.NotFoundError) as caught:
            await running.sdk().chat.completions.create(model=model, messages=[])
        assert caught.value.body["detail"] == f"Model '{model}' was not found"
    assert posts(upstream) == []


async def test_model_ids_is_a_fixed_list_and_the_upstream_is_not_asked(proxy, upstream):
    import openai

    running = await proxy([connection(upstream, model_ids=["gpt-4o-mini"])])
    listed = [model.id async for model in running.sdk().models.list()]
    assert listed == ["gpt-4o-mini"]
    with pytest.raises(openai.NotFoundError):
        await running.sdk().embeddings.create(model="text-embedding-3-small", input="x")
    await running.sdk().chat.completions.create(model="gpt-4o-mini", messages=[])
    assert [r.path for r in upstream.requests] == ["/v1/chat/completions"]


async def test_azure_urls_headers_and_deployments(proxy, upstream):
    running = await proxy(
        [
            {
                "base_url": upstream.base_url,
                "api_key": UPSTREAM_KEY,
                "azure": True,
                "api_version": "2024-10-21",
                "model_ids": ["gpt-4o", "text-embedding-3-large"],
                "deployments": {"gpt-4o": "prod-gpt4o"},
            }
        ]
    )
    sdk = running.sdk()
    await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    stream = await sdk.chat.completions.create(model="gpt-4o", messages=[], stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream]) == upstream.app.control.reply
    await sdk.embeddings.create(model="text-embedding-3-large", input="hi")
    sent = posts(upstream)
    assert [(s.path, s.query) for s in sent] == [
        ("/openai/deployments/prod-gpt4o/chat/completions", {"api-version": "2024-10-21"}),
        ("/openai/deployments/prod-gpt4o/chat/completions", {"api-version": "2024-10-21"}),
        ("/openai/deployments/text-embedding-3-large/embeddings", {"api-version": "2024-10-21"}),
    ]
    assert all(s.headers["Api-Key"] == UPSTREAM_KEY and "Authorization" not in s.headers for s in sent)
    listed = [m async for m in sdk.models.list()]
    assert {m.id for m in listed} == {"gpt-4o", "text-embedding-3-large"}


async def test_one_connections_models_are_for_admins(proxy, upstream, fake_upstream):
    second = await fake_upstream("openai")
    second.app.control.models = ["llama-3"]
    running = await proxy([connection(upstream), {"base_url": second.base_url + "/v1", "name": "local"}])
    async with httpx.AsyncClient(base_url=running.url) as http:
        answer = await http.get("/openai/models/1", headers=running.admin)
        assert [m["id"] for m in answer.json()["data"]] == ["llama-3"]
        assert (await http.get("/openai/models/1", headers=running.user)).status_code == 403
        missing = await http.get("/openai/models/7", headers=running.admin)
        assert missing.status_code == 404 and "7" in missing.json()["detail"]


async def test_the_upstream_key_is_never_returned_or_logged(proxy, upstream, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    running = await proxy([connection(upstream, name="main")])
    upstream.app.control.fail(401, f"Incorrect API key provided: {UPSTREAM_KEY}")
    async with httpx.AsyncClient(base_url=running.url) as http:
        bodies = [
            await http.get("/openai/models", headers=running.admin),
            await http.get("/openai/models/0", headers=running.admin),
            await http.post(
                "/openai/chat/completions",
                headers=running.admin,
                json={"model": "gpt-4o-mini", "messages": []},
            ),
            await http.get("/api/plugins", headers=running.admin),
        ]
    refused = bodies[2]
    assert refused.status_code == 401
    assert refused.json()["detail"].startswith("OpenAI upstream 'main' refused the request (401)")
    assert refused.json()["error"]["message"] == "Incorrect API key provided: ***"
    for response in bodies:
        assert UPSTREAM_KEY not in response.text
    assert any(record.name.startswith("httpx") for record in caplog.records)  # requests were logged
    assert UPSTREAM_KEY not in caplog.text


async def test_a_disabled_plugin_answers_503(proxy, upstream):
    running = await proxy([connection(upstream)], enable=False)
    async with httpx.AsyncClient(base_url=running.url) as http:
        for method, path in (("GET", "/openai/models"), ("POST", "/openai/chat/completions")):
            answer = await http.request(method, path, headers=running.user, json={"model": "gpt-4o-mini"})
            assert answer.status_code == 503 and answer.json() == {"detail": "OpenAI API is disabled"}
    assert upstream.requests == []

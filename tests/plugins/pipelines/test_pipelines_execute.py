"""POST /api/pipelines/:id/execute: a pipe or manifold on a chat body, a filter's inlet or outlet."""

from __future__ import annotations

import pytest
from pipelines_helpers import ask, content_of_stream, sse_events, worker_processes

pytestmark = pytest.mark.asyncio

MESSAGES = [{"role": "user", "content": "darn good"}]
EXECUTE = "/api/pipelines/{}/execute"


async def test_execute_a_pipe_active_or_not(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe")
    # Inactive: a worker is started for the call and ended after it.
    response = await client.post(EXECUTE.format("echo_pipe"), json={"messages": MESSAGES}, headers=admin)
    assert response.status_code == 200
    result = await response.get_json()
    assert result["ran"] == "pipe" and result["pipeline"] == "echo_pipe"
    assert result["response"]["choices"][0]["message"]["content"] == "echo: darn good"
    assert worker_processes() == []
    streamed = await client.post(
        "/api/pipelines/echo_pipe/execute", json={"messages": MESSAGES, "stream": True}, headers=admin
    )
    assert streamed.headers["X-Pipeline-Ran"] == "pipe"
    events = sse_events(await streamed.get_data())
    assert content_of_stream(events) == "echo: darn good "
    assert events[-1] == "[DONE]"
    assert worker_processes() == []
    await client.post("/api/pipelines/echo_pipe/activate", headers=admin)
    wrapped = {"body": {"messages": MESSAGES}}
    active = await client.post(EXECUTE.format("echo_pipe"), json=wrapped, headers=admin)
    assert (await active.get_json())["response"]["choices"][0]["message"]["content"] == "echo: darn good"


async def test_execute_a_manifold_sub_pipe(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "model_manifold")
    cases = (
        (None, "HELLO, DARN GOOD"),
        ("quiet", "hello, darn good"),
        ("model_manifold.loud", "HELLO, DARN GOOD"),
    )
    for model, expected in cases:
        body = {"messages": MESSAGES, **({"model": model} if model else {})}
        response = await client.post(EXECUTE.format("model_manifold"), json=body, headers=admin)
        result = await response.get_json()
        assert result["response"]["choices"][0]["message"]["content"] == expected
    body = {"messages": MESSAGES, "model": "x"}
    unknown = await client.post(EXECUTE.format("model_manifold"), json=body, headers=admin)
    assert unknown.status_code == 400


async def test_execute_a_filter_inlet_and_outlet(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "word_filter")
    inlet = await client.post(
        EXECUTE.format("word_filter"),
        json={"direction": "inlet", "body": {"messages": MESSAGES}},
        headers=admin,
    )
    result = await inlet.get_json()
    assert result["ran"] == "inlet"
    assert result["body"]["messages"][0]["content"] == "**** good"
    assert result["body"]["metadata_from_filter"] == "admin"
    exchange = {"messages": [*MESSAGES, {"role": "assistant", "content": "Yes."}]}
    outlet = await client.post(
        "/api/pipelines/word_filter/execute", json={"direction": "outlet", "body": exchange}, headers=admin
    )
    result = await outlet.get_json()
    assert result["ran"] == "outlet"
    assert result["body"]["messages"][-1]["content"] == "Yes. -- filtered"
    refused = await client.post(
        "/api/pipelines/word_filter/execute",
        json={"body": {"messages": [{"role": "user", "content": "secret plans"}]}},
        headers=admin,
    )
    assert refused.status_code == 502
    assert "I cannot talk about secret plans" in (await refused.get_json())["detail"]
    for bad in ({"direction": "sideways", "body": {}}, {"direction": "inlet", "body": [1]}):
        response = await client.post("/api/pipelines/word_filter/execute", json=bad, headers=admin)
        assert response.status_code == 400


async def test_execute_refuses_bad_bodies(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe")
    for bad in ({"messages": "hi"}, {"messages": [], "stream": "yes"}, {}):
        response = await client.post("/api/pipelines/echo_pipe/execute", json=bad, headers=admin)
        assert response.status_code == 400, bad
    missing = await client.post("/api/pipelines/nothing/execute", json={"messages": []}, headers=admin)
    assert missing.status_code == 404


async def test_without_the_completions_plugin(make_app, auth_headers, create):
    app = await make_app(load_plugins=["pipelines"])
    client, admin = app.test_client(), await auth_headers(app, role="admin")
    await create(client, admin, "echo_pipe", is_active=True)
    response = await client.post(EXECUTE.format("echo_pipe"), json={"messages": MESSAGES}, headers=admin)
    assert (await response.get_json())["response"]["choices"][0]["message"]["content"] == "echo: darn good"
    assert (await ask(client, admin, "echo_pipe", "hi")).status_code == 404


async def test_workers_do_not_see_the_host_settings(pipelines_app, monkeypatch):
    monkeypatch.setenv("COLONNADE_AUTH_SECRET_KEY", "host-only-secret-value-0123456789abcdef")
    monkeypatch.setenv("PIPELINE_API_KEY_FOR_TEST", "visible")
    app, client, admin = await pipelines_app()
    source = (
        "import os\n"
        "NAMES = ('COLONNADE_AUTH_SECRET_KEY', 'PIPELINE_API_KEY_FOR_TEST')\n"
        "class Pipeline:\n"
        "    def pipe(self, user_message, model_id, messages, body):\n"
        "        seen = [os.environ.get(name) for name in NAMES]\n"
        "        return ' '.join(str(value) for value in seen)\n"
    )
    created = await client.post("/api/pipelines", json={"id": "env", "content": source}, headers=admin)
    assert created.status_code == 201
    response = await client.post(EXECUTE.format("env"), json={"messages": MESSAGES}, headers=admin)
    assert (await response.get_json())["response"]["choices"][0]["message"]["content"] == "None visible"

"""Misbehaving pipelines are contained: the host keeps answering, their workers are replaced."""

from __future__ import annotations

import asyncio

import pytest
from pipelines_helpers import alive, chat, reply_of, sse_events

pytestmark = pytest.mark.asyncio


async def ask(client, headers, text, **extra):
    body = chat("misbehaving", text, **extra)
    return await client.post("/api/chat/completions", json=body, headers=headers)


async def test_a_raising_pipe_is_a_json_error(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "misbehaving", is_active=True)
    response = await ask(client, admin, "raise")
    assert response.status_code == 502
    assert "RuntimeError: this pipeline raised on purpose" in (await response.get_json())["detail"]
    # The same worker goes on answering.
    service = app.extensions["colonnade"].state("pipelines").service
    [pid] = service.worker_pids()
    assert await reply_of(await ask(client, admin, "hello")) == "fine"
    assert service.worker_pids() == [pid]
    # What a pipeline prints goes to the log, not into the answers; reading stdin reads nothing.
    assert await reply_of(await ask(client, admin, "print")) == "printed"
    reading = await ask(client, admin, "input")
    assert reading.status_code == 502 and "EOFError" in (await reading.get_json())["detail"]
    assert service.worker_pids() == [pid]


@pytest.mark.parametrize("behaviour", ["block", "loop"])
async def test_a_pipe_past_its_timeout_is_stopped_with_a_504(pipelines_app, create, behaviour):
    app, client, admin = await pipelines_app(timeout_seconds=1)
    await create(client, admin, "misbehaving", is_active=True)
    service = app.extensions["colonnade"].state("pipelines").service
    [pid] = service.worker_pids()
    # While it blocks its worker, the host answers other requests.
    stuck = asyncio.create_task(ask(client, admin, behaviour))
    health = await client.get("/api/pipelines", headers=admin)
    assert health.status_code == 200
    response = await stuck
    assert response.status_code == 504
    assert "did not answer within 1 s" in (await response.get_json())["detail"]
    assert not alive(pid)
    # A new worker is started at once, not on the next call.
    await asyncio.gather(*service.restarts)
    [restarted] = service.worker_pids()
    assert restarted != pid
    again = await ask(client, admin, "hello")
    assert (await again.get_json())["choices"][0]["message"]["content"] == "fine"
    assert service.worker_pids() == [restarted]


async def test_a_crashing_worker_is_replaced(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "misbehaving", is_active=True)
    response = await ask(client, admin, "crash")
    assert response.status_code == 502
    assert "stopped (exit code 3)" in (await response.get_json())["detail"]
    again = await ask(client, admin, "hello")
    assert (await again.get_json())["choices"][0]["message"]["content"] == "fine"


async def test_a_stream_that_stalls_ends_with_an_error_event(pipelines_app, create):
    app, client, admin = await pipelines_app(timeout_seconds=1)
    await create(client, admin, "misbehaving", is_active=True)
    response = await ask(client, admin, "stall-stream", stream=True)
    assert response.status_code == 200
    events = sse_events(await response.get_data())
    assert events[0]["choices"][0]["delta"]["content"] == "first "
    assert "did not answer within 1 s" in events[-2]["error"]["message"]
    assert events[-1] == "[DONE]"
    assert (await (await ask(client, admin, "ok")).get_json())["choices"][0]["message"]["content"] == "fine"


async def test_bad_valves_are_refused_and_change_nothing(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe", is_active=True)
    service = app.extensions["colonnade"].state("pipelines").service
    [pid] = service.worker_pids()
    for path in ("/api/pipelines/echo_pipe/valves/update", "/api/v1/pipelines/echo_pipe/valves/update"):
        response = await client.post(path, json={"PREFIX": {"nested": True}}, headers=admin)
        assert response.status_code == 400
        assert "PREFIX" in (await response.get_json())["detail"]
    not_an_object = await client.post("/api/pipelines/echo_pipe/valves/update", json=[1], headers=admin)
    assert not_an_object.status_code == 400
    # Too deep for the decoder (it used to be a 500), beyond 64 bits, or not JSON at all.
    raw_json = {**admin, "Content-Type": "application/json"}
    for path, raw in (
        ("/api/pipelines/echo_pipe/valves/update", b"[" * 5000 + b"]" * 5000),
        ("/api/v1/pipelines/add", b'{"url": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        ("/api/pipelines/echo_pipe/valves/update", b'{"PREFIX": 123456789012345678901234567890}'),
        ("/api/pipelines/echo_pipe/valves/update", b'{"PREFIX": '),
    ):
        refused = await client.post(path, data=raw, headers=raw_json)
        assert 400 <= refused.status_code < 500, (path, raw[:20])
        assert isinstance((await refused.get_json())["detail"], str)
    valves = await (await client.get("/api/pipelines/echo_pipe/valves", headers=admin)).get_json()
    assert valves["PREFIX"] == "echo:"
    answer = await client.post("/api/chat/completions", json=chat("echo_pipe", "hi"), headers=admin)
    assert (await answer.get_json())["choices"][0]["message"]["content"] == "echo: hi"
    assert service.worker_pids() == [pid]


async def test_a_module_whose_startup_fails_is_not_activated(pipelines_app):
    app, client, admin = await pipelines_app()
    source = (
        "class Pipeline:\n"
        "    def __init__(self):\n        self.name = 'Broken start'\n"
        "    async def on_startup(self):\n        raise RuntimeError('no database')\n"
        "    def pipe(self, user_message, model_id, messages, body):\n        return 'x'\n"
    )
    created = await client.post("/api/pipelines", json={"id": "broken", "content": source}, headers=admin)
    assert created.status_code == 201
    response = await client.post("/api/pipelines/broken/activate", headers=admin)
    assert response.status_code == 400
    assert "RuntimeError: no database" in (await response.get_json())["detail"]
    assert (await (await client.get("/api/pipelines/broken", headers=admin)).get_json())["is_active"] is False
    assert (await (await client.get("/api/models", headers=admin)).get_json())["data"] == []


async def test_a_worker_exits_on_its_own_when_the_host_goes_away(pipelines_app):
    """A host killed outright cannot stop its workers; its pipes close, and that is enough, even while
    a pipeline thread is busy (here a generator held back by flow control)."""
    import asyncio

    from pipelines_helpers import sample

    from colonnade.plugins.pipelines.workers import PipelineWorker, WorkerFailure

    await pipelines_app()  # only for the leftover-process check around this test
    worker = PipelineWorker("endless", sample("endless"), {}, timeout=60)
    await worker.start(startup=True, timeout=10)
    kind, items = await worker.run("pipe", {"user_message": "go", "body": {"stream": True}})
    assert await anext(items) == "0 "  # the generator's thread is running
    worker.process.stdin.close()  # what the kernel does to a dead host's end of the pipe
    async with asyncio.timeout(10):
        code = await worker.process.wait()
    assert code == 0
    with pytest.raises(WorkerFailure, match="stopped"):
        async for _ in items:
            pass
    await worker.kill()

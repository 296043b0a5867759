"""Streams: a client that leaves closes the pipeline's generator; a slow reader holds the generator
back instead of piling its items up in the host."""

from __future__ import annotations

import pytest
from pipelines_helpers import chat, sample

pytestmark = pytest.mark.asyncio


async def test_a_client_leaving_closes_the_generator(served, create):
    running = await served()
    client = running.app.test_client()
    await create(client, running.admin, "endless", is_active=True)
    sdk = running.sdk()
    stream = await sdk.chat.completions.create(
        model="endless", messages=[{"role": "user", "content": "go"}], stream=True
    )
    seen = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            seen.append(chunk.choices[0].delta.content)
        if len(seen) == 3:
            break
    await stream.close()
    assert seen == ["0 ", "1 ", "2 "]
    report = await sdk.chat.completions.create(**chat("endless", "report"))
    assert report.choices[0].message.content.startswith("closed=True")


async def test_an_unread_stream_holds_the_generator_back(pipelines_app):
    from colonnade.plugins.pipelines.worker import WINDOW
    from colonnade.plugins.pipelines.workers import PipelineWorker

    await pipelines_app()  # only for the leftover-process check around this test
    worker = PipelineWorker("endless", sample("endless"), {}, timeout=10)
    await worker.start(startup=True, timeout=10)
    try:
        kind, items = await worker.run("pipe", {"user_message": "go", "body": {"stream": True}})
        assert kind == "stream"
        assert [await anext(items) for _ in range(3)] == ["0 ", "1 ", "2 "]
        # Nobody reads on: the generator may run at most one window ahead of what was relayed.
        produced = int(await worker.call("pipe", {"user_message": "count", "body": {}}))
        assert 3 <= produced <= 3 + WINDOW + 1
        await items.aclose()
        assert (await worker.call("pipe", {"user_message": "report", "body": {}})).startswith("closed=True")
    finally:
        await worker.stop(shutdown=True, timeout=5)

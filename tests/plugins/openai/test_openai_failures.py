"""Upstream failures reach the client as a status and a detail naming the upstream, never as a hang.

Timeouts are short here (the plugin's own ``read_timeout``); the fake stalls on an ``asyncio.Event``
that is never set, so what ends the wait is the timeout under test, not a sleep.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from openai_helpers import connection

from colonnade.testing import closed_port

pytestmark = pytest.mark.asyncio

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def sse_payloads(text: str) -> list[str]:
    return [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]


async def test_an_unreachable_upstream_is_502_naming_it(proxy):
    running = await proxy([{"base_url": f"http://127.0.0.1:{closed_port()}/v1", "name": "gone"}])
    async with httpx.AsyncClient(base_url=running.url) as http:
        listed = await http.get("/openai/models", headers=running.user)
        assert listed.status_code == 200 and listed.json()["data"] == []  # the list goes on without it
        for stream in (False, True):
            answer = await http.post(
                "/openai/chat/completions", headers=running.user, json={**CHAT, "stream": stream}
            )
            assert answer.status_code == 502
            assert answer.json()["detail"].startswith("OpenAI upstream 'gone' is unreachable")


async def test_an_upstream_5xx_is_502_and_a_4xx_keeps_its_status(proxy, upstream):
    import openai

    running = await proxy([connection(upstream, name="main")])
    sdk = running.sdk()
    upstream.app.control.fail(500, "kaboom")
    with pytest.raises(openai.APIStatusError) as caught:
        await sdk.chat.completions.create(**CHAT)
    assert caught.value.status_code == 502
    assert caught.value.body["detail"] == "OpenAI upstream 'main' failed (500): kaboom"

    upstream.app.control.fail(429, "slow down")
    async with httpx.AsyncClient(base_url=running.url) as http:
        limited = await http.post(
            "/openai/embeddings", headers=running.user, json={"model": "gpt-4o-mini", "input": "x"}
        )
    assert limited.status_code == 429
    assert limited.json()["detail"] == "OpenAI upstream 'main' refused the request (429): slow down"

    upstream.app.control.fail(400, "bad temperature", param="temperature")
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(**CHAT, stream=True)
    assert caught.value.body["param"] == "temperature"  # the SDK hands over the upstream's error object


async def test_an_answer_that_is_not_json_is_502(proxy, upstream):
    running = await proxy([connection(upstream, name="main")])
    upstream.app.control.status = 200
    upstream.app.control.error_body = "<html>proxy login</html>"
    async with httpx.AsyncClient(base_url=running.url) as http:
        answer = await http.post("/openai/chat/completions", headers=running.user, json=CHAT)
    assert answer.status_code == 502
    assert answer.json()["detail"] == "OpenAI upstream 'main' sent a malformed answer (not JSON)"


async def test_a_malformed_stream_ends_with_an_error_event(proxy, upstream):
    running = await proxy([connection(upstream, name="main")])
    upstream.app.control.malformed = True
    async with httpx.AsyncClient(base_url=running.url) as http:
        answer = await http.post(
            "/openai/chat/completions", headers=running.user, json={**CHAT, "stream": True}
        )
    assert answer.status_code == 200
    payloads = sse_payloads(answer.text)
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])["error"]
    assert error["message"] == "OpenAI upstream 'main' sent a malformed stream (an event is not JSON)"
    assert "{not json" not in answer.text  # the broken event never reaches the client


async def test_a_stream_cut_mid_event_or_without_done(proxy, upstream):
    running = await proxy([connection(upstream)])
    upstream.app.control.send_done = False
    async with httpx.AsyncClient(base_url=running.url) as http:
        answer = await http.post(
            "/openai/chat/completions", headers=running.user, json={**CHAT, "stream": True}
        )
    assert sse_payloads(answer.text)[-1] == "[DONE]"  # a clean end without [DONE] gets one


async def test_a_stalled_upstream_times_out_with_504(proxy, upstream):
    running = await proxy([connection(upstream, name="slow")], read_timeout=0.3)
    upstream.app.control.stall = asyncio.Event()  # never set
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
        answer = await http.post("/openai/chat/completions", headers=running.user, json=CHAT)
        assert answer.status_code == 504
        assert answer.json()["detail"] == "OpenAI upstream 'slow' did not answer in time"
        # A stream that stalls after its first chunk ends with an error event instead.
        streamed = await http.post(
            "/openai/chat/completions", headers=running.user, json={**CHAT, "stream": True}
        )
    payloads = sse_payloads(streamed.text)
    assert json.loads(payloads[0])["choices"][0]["delta"]["role"] == "assistant"
    assert json.loads(payloads[-2])["error"]["message"] == "OpenAI upstream 'slow' did not answer in time"
    assert payloads[-1] == "[DONE]"


async def test_a_client_disconnect_cancels_the_upstream_stream(proxy, upstream):
    running = await proxy([connection(upstream)])
    control = upstream.app.control
    control.stall = asyncio.Event()  # the upstream holds the stream open after its first chunk
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
        request = http.build_request(
            "POST", "/openai/chat/completions", headers=running.user, json={**CHAT, "stream": True}
        )
        response = await http.send(request, stream=True)
        assert response.status_code == 200
        first = await anext(response.aiter_bytes())
        assert b'"role": "assistant"' in first
        await response.aclose()  # the client goes away mid-stream
    await asyncio.wait_for(control.stream_closed.wait(), 10)
    assert control.cancelled is True


async def test_bad_bodies_are_4xx(proxy, upstream):
    running = await proxy([connection(upstream)])
    async with httpx.AsyncClient(base_url=running.url) as http:
        for body in (
            b"{nope",
            b"[1, 2]",
            json.dumps({"messages": []}).encode(),
            json.dumps({"model": 3}).encode(),
        ):
            answer = await http.post(
                "/openai/chat/completions",
                headers={**running.user, "Content-Type": "application/json"},
                content=body,
            )
            assert answer.status_code == 400, body
            assert isinstance(answer.json()["detail"], str)

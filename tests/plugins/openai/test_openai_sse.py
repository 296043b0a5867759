"""SSE relaying byte by byte: events split across reads, CRLF line ends, comments, multi-line data."""

from __future__ import annotations

import asyncio
import json
import zlib

import httpx
import pytest
from quart import Quart, Response

pytestmark = pytest.mark.asyncio


def raw_upstream(
    pieces: list[bytes], gate: asyncio.Event | None = None, headers: dict[str, str] | None = None
) -> Quart:
    """An upstream that lists one model and streams exactly ``pieces``, waiting on ``gate`` after the first."""
    app = Quart("raw_sse")

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": "raw", "object": "model", "created": 0, "owned_by": "x"}]}

    @app.post("/v1/chat/completions")
    async def chat():
        async def body():
            for number, piece in enumerate(pieces):
                yield piece
                if number == 0 and gate is not None:
                    await gate.wait()

        return Response(body(), content_type="text/event-stream", headers=headers or {})

    return app


def chunk(text: str) -> dict:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}


async def relayed(proxy, upstream_app, fake_upstream) -> tuple[str, list[str]]:
    fake = await fake_upstream(upstream_app)
    running = await proxy([{"base_url": fake.base_url + "/v1"}])
    async with httpx.AsyncClient(base_url=running.url) as http:
        answer = await http.post(
            "/openai/chat/completions",
            headers=running.user,
            json={"model": "raw", "messages": [], "stream": True},
        )
    assert answer.status_code == 200
    return answer.text, [line[5:].strip() for line in answer.text.splitlines() if line.startswith("data:")]


async def test_events_cut_anywhere_arrive_whole(proxy, fake_upstream):
    stream = (
        b": keep-alive\r\n\r\n"
        + f"data: {json.dumps(chunk('Hel'))}\r\n\r\n".encode()
        + b'data: {"object": "chat.completion.chunk",\ndata: "choices": []}\n\n'  # one event, two data lines
        + f"data: {json.dumps(chunk('lo'))}\n\ndata: [DONE]\n\n".encode()
    )
    pieces = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    text, payloads = await relayed(proxy, raw_upstream(pieces), fake_upstream)
    assert payloads[0] == json.dumps(chunk("Hel")) and payloads[-1] == "[DONE]"
    assert json.loads(payloads[-2]) == chunk("lo")
    assert "\r" not in text


async def test_a_stream_cut_mid_event_ends_with_an_error(proxy, fake_upstream):
    stream = [f"data: {json.dumps(chunk('a'))}\n\n".encode(), b'data: {"object": "chat.comp']
    _, payloads = await relayed(proxy, raw_upstream(stream), fake_upstream)
    assert json.loads(payloads[0]) == chunk("a")
    assert "ended mid-event" in json.loads(payloads[1])["error"]["message"]
    assert payloads[-1] == "[DONE]"


async def test_a_broken_first_event_is_502(proxy, fake_upstream):
    fake = await fake_upstream(raw_upstream([b"data: <html>\n\n"]))
    running = await proxy([{"base_url": fake.base_url + "/v1", "name": "odd"}])
    async with httpx.AsyncClient(base_url=running.url) as http:
        answer = await http.post(
            "/openai/chat/completions",
            headers=running.user,
            json={"model": "raw", "messages": [], "stream": True},
        )
    assert answer.status_code == 502
    assert answer.json()["detail"] == "OpenAI upstream 'odd' sent a malformed stream (an event is not JSON)"


async def test_events_read_with_a_broken_one_are_relayed_before_the_error(proxy, fake_upstream):
    # Good events and a broken one in one read (one chunk here; a burst of chunks is read as one).
    good = "".join(f"data: {json.dumps(chunk(text))}\n\n" for text in ("a", "b"))
    _, payloads = await relayed(proxy, raw_upstream([(good + "data: <html>\n\n").encode()]), fake_upstream)
    assert [json.loads(payload) for payload in payloads[:2]] == [chunk("a"), chunk("b")]
    assert "an event is not JSON" in json.loads(payloads[2])["error"]["message"]
    assert payloads[3:] == ["[DONE]"]


async def test_what_follows_done_in_the_same_read_is_ignored(proxy, fake_upstream):
    stream = f"data: {json.dumps(chunk('a'))}\n\ndata: [DONE]\n\ndata: <html>\n\n".encode()
    _, payloads = await relayed(proxy, raw_upstream([stream]), fake_upstream)
    assert payloads == [json.dumps(chunk("a")), "[DONE]"]


async def test_the_first_event_is_relayed_before_the_upstream_sends_more(proxy, fake_upstream):
    gate = asyncio.Event()
    first = f"data: {json.dumps(chunk('now'))}\n\n".encode()
    fake = await fake_upstream(
        raw_upstream([first, f"data: {json.dumps(chunk('later'))}\n\n".encode()], gate)
    )
    running = await proxy([{"base_url": fake.base_url + "/v1"}])
    async with httpx.AsyncClient(base_url=running.url) as http:
        body = {"model": "raw", "messages": [], "stream": True}
        async with http.stream("POST", "/openai/chat/completions", headers=running.user, json=body) as answer:
            received = answer.aiter_bytes()
            assert await anext(received) == first  # while the upstream is still holding the rest
            gate.set()
            rest = b"".join([piece async for piece in received])
    assert rest.endswith(b"data: [DONE]\n\n") and b"later" in rest


async def test_a_compressed_stream_is_relayed_decoded(proxy, fake_upstream):
    events = [f"data: {json.dumps(chunk(text))}\n\n".encode() for text in ("Hel", "lo")] + [
        b"data: [DONE]\n\n"
    ]
    compressor = zlib.compressobj(wbits=31)  # gzip, flushed after each event as a streaming server does
    pieces = [compressor.compress(event) + compressor.flush(zlib.Z_SYNC_FLUSH) for event in events]
    pieces.append(compressor.flush())

    _text, data = await relayed(
        proxy, raw_upstream(pieces, headers={"Content-Encoding": "gzip"}), fake_upstream
    )

    assert [json.loads(item)["choices"][0]["delta"]["content"] for item in data[:-1]] == ["Hel", "lo"]
    assert data[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("batch", "payloads"),
    [
        (b"data: A\n\n", [b"A"]),
        (b"data: A\n\ndata: B\n\n", [b"A", b"B"]),
        (b"data: A\n\ndata:B\n\n", [b"A", b"B"]),  # no space after the colon
        (b"data: A\n\n\n", [b"A"]),  # a stray blank line
        (b"data: A\ndata: B\n\n", [b"A\nB"]),  # one event, two data lines
        (b": keep-alive\n\ndata: A\n\n", [b"A"]),
        (b"data: A\n\nevent: x\ndata: B\n\n", [b"A", b"B"]),
        (b"data:  A \n\n", [b"A"]),
        (b"data: A\n\ndata: \n\n", [b"A", b""]),
    ],
)
async def test_the_data_of_each_event_in_a_batch(batch, payloads):
    from colonnade.plugins.openai.upstreams import _event_data

    assert [payload.strip() for payload in _event_data(batch)] == payloads

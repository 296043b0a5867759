"""hypercorn as ``colonnade serve`` runs it (:func:`colonnade.hypercorn_adjustments.combine_response_writes`): an
answer's head goes out with its body in one write, and a stream still waiting for its first chunk
has its head sent at once anyway."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from quart import Quart

pytestmark = pytest.mark.asyncio


def streaming_app(release: asyncio.Event) -> Quart:
    app = Quart("writes")

    @app.get("/small")
    async def small() -> dict[str, str]:
        return {"answer": "x" * 100}

    @app.get("/stream")
    async def stream():
        async def body():
            await release.wait()
            yield b"first"
            yield b"second"

        return body(), 200, {"Content-Type": "text/plain"}

    @app.get("/empty")
    async def empty():
        return "", 204

    return app


async def raw_get(base_url: str, path: str) -> list[bytes]:
    """The pieces one read at a time gets of an answer (a keep-alive connection, so it ends by length)."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
    pieces = []
    while piece := await reader.read(65536):
        pieces.append(piece)
    writer.close()
    return pieces


async def test_a_small_answer_is_one_write(serve_app):
    base_url = await serve_app(streaming_app(asyncio.Event()))
    pieces = await raw_get(base_url, "/small")
    whole = b"".join(pieces)
    assert whole.startswith(b"HTTP/1.1 200") and whole.rstrip().endswith(b'"}')
    # Head and body arrived in the same read: they were written together.
    assert b"\r\n\r\n" in pieces[0] and pieces[0].rstrip().endswith(b'"}')


async def test_a_stream_gets_its_head_before_its_first_chunk(serve_app):
    release = asyncio.Event()
    base_url = await serve_app(streaming_app(release))
    async with httpx.AsyncClient() as client, client.stream("GET", base_url + "/stream") as response:
        # The head is here while the body still waits for ``release``.
        assert response.status_code == 200
        release.set()
        assert await response.aread() == b"firstsecond"


async def test_an_answer_without_a_body_is_sent(serve_app):
    base_url = await serve_app(streaming_app(asyncio.Event()))
    async with httpx.AsyncClient() as client:
        response = await client.get(base_url + "/empty")
    assert response.status_code == 204 and response.content == b""


async def test_a_head_sent_on_its_own_still_goes_before_the_body():
    """The head's own write is a task; a body chunk that comes before that task has run waits for it."""
    import h11
    from hypercorn.protocol.h11 import H11Protocol

    from colonnade.hypercorn_adjustments import combine_response_writes

    combine_response_writes()

    class Connection:
        def __init__(self) -> None:
            self.connection = h11.Connection(h11.SERVER)
            self.connection.receive_data(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            assert isinstance(self.connection.next_event(), h11.Request)
            self.written: list[bytes] = []

        async def send(self, raw) -> None:
            await asyncio.sleep(0)  # as hypercorn's send does (a lock, a drain)
            self.written.append(raw.data)

    connection = Connection()
    await H11Protocol._send_h11_event(
        connection, h11.Response(status_code=200, headers=[("content-length", "5")])
    )
    await asyncio.sleep(0)  # nothing followed within the turn: the head's write is started as a task
    await H11Protocol._send_h11_event(connection, h11.Data(data=b"hello"))
    await H11Protocol._send_h11_event(connection, h11.EndOfMessage())

    assert connection.written[0].startswith(b"HTTP/1.1 200")
    assert b"".join(connection.written).endswith(b"\r\n\r\nhello")

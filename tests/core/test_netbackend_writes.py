"""``colonnade.netbackend``: how an upstream client's writes reach the socket.

A request's pieces (head, body, the end of a chunked body) leave as one write when they are written in
one go, and a body that arrives piece by piece still leaves piece by piece. Each test runs on plain
asyncio and on uvloop, against a server on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import pytest
import uvloop

from colonnade.netbackend import COALESCE_LIMIT, AsyncioBackend, UpstreamClient


@pytest.fixture(params=["asyncio", "uvloop"])
def loop_factory(request: pytest.FixtureRequest) -> Any:
    return asyncio.new_event_loop if request.param == "asyncio" else uvloop.new_event_loop


def run(loop_factory: Any, coroutine: Any) -> Any:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(coroutine)


class CountingTransport:
    """Stands in for a connection's transport and keeps what each ``write`` was given."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


async def echo_server() -> tuple[asyncio.Server, str, list[bytes]]:
    """A keep-alive HTTP/1.1 server answering each request (sized or chunked) with the body it got,
    and keeping every request's raw bytes as they arrived."""
    received: list[bytes] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.lower().split(": ", 1) for line in head.decode().split("\r\n")[1:] if line
                )
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                elif headers.get("transfer-encoding") == "chunked":
                    chunks = []
                    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                        chunks.append((await reader.readexactly(size + 2))[:-2])
                    await reader.readexactly(2)  # the empty line after the last chunk
                    body = b"".join(chunks)
                received.append(head + body)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", received


def counted_connection(client: UpstreamClient) -> CountingTransport:
    """Count the writes of the client's one pooled connection from now on."""
    [connection] = client._transport._pool.connections
    stream = connection._connection._network_stream
    stream._transport = counting = CountingTransport(stream._transport)
    return counting


def test_a_request_written_in_one_go_leaves_in_one_write(loop_factory):
    async def scenario():
        server, url, received = await echo_server()
        async with server, UpstreamClient(base_url=url) as client:
            await client.get("/warm-up")  # the connection, to count the writes on
            counting = counted_connection(client)

            response = await client.post("/sized", json={"question": 42})
            assert response.json() == {"question": 42}

            async def pieces() -> AsyncIterator[bytes]:
                for piece in (b"one ", b"two ", b"three"):
                    yield piece

            response = await client.post("/chunked", content=pieces())
            assert response.content == b"one two three"
        # Head and body of each request went out together, and arrived whole.
        assert len(counting.writes) == 2
        sized, chunked = counting.writes
        assert sized.startswith(b"POST /sized ") and sized.endswith(b'{"question":42}')
        assert chunked.startswith(b"POST /chunked ") and chunked.endswith(b"0\r\n\r\n")
        assert received[1] == sized

    run(loop_factory, scenario())


def test_a_body_that_comes_piece_by_piece_leaves_as_it_comes(loop_factory):
    """A piece must reach the upstream without waiting for the next one: here the next is only made
    once the upstream has the first (held back, the request would never complete)."""

    async def scenario():
        first_piece_arrived = asyncio.Event()
        seen = bytearray()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while b"first" not in seen:
                seen.extend(await reader.read(65536))
            first_piece_arrived.set()
            while not seen.endswith(b"0\r\n\r\n"):
                seen.extend(await reader.read(65536))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            writer.close()

        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            await first_piece_arrived.wait()
            yield b"second"

        server = await asyncio.start_server(connection, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server, UpstreamClient() as client:
            async with asyncio.timeout(5):
                response = await client.post(url, content=body())
        assert response.text == "ok"
        assert b"first" in seen and b"second" in seen

    run(loop_factory, scenario())


def test_a_large_body_is_sent_as_it_is_written_without_waiting_for_the_end(loop_factory):
    """Past ``COALESCE_LIMIT`` bytes waiting, a write goes out at once (and waits while the socket is
    full), so a big upload is never held whole in memory."""

    async def scenario():
        server, url, _ = await echo_server()
        piece = b"x" * (COALESCE_LIMIT // 2 + 1)
        async with server, UpstreamClient(base_url=url) as client:
            await client.get("/warm-up")
            counting = counted_connection(client)

            async def pieces() -> AsyncIterator[bytes]:
                for _ in range(4):
                    yield piece

            response = await client.post("/big", content=pieces())
            assert len(response.content) == 4 * len(piece)
        # The head and the first piece together, then every second piece: none waits for the last.
        assert len(counting.writes) >= 2
        assert max(len(write) for write in counting.writes) < 2 * COALESCE_LIMIT

    run(loop_factory, scenario())


def test_small_writes_wait_while_the_socket_is_full(loop_factory):
    """Pieces kept to be sent together must not defeat flow control: once the peer has stopped reading
    and the socket is full, each write waits (here, until its timeout), however small, rather than
    piling up in memory."""
    piece = b"z" * 1024
    # Far more than loopback's socket buffers and the transport's own limit hold.
    enough = 64 * 1024 * 1024 // len(piece)

    async def scenario():
        stop = asyncio.Event()
        waiting: list[int] = []

        async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await stop.wait()
            writer.close()

        server = await asyncio.start_server(never_reads, "127.0.0.1", 0)
        async with server:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1])
            with pytest.raises(httpcore.WriteTimeout):
                for _ in range(enough):
                    await stream.write(piece, timeout=0.05)
                    waiting.append(stream._transport.get_write_buffer_size())
                    await asyncio.sleep(0)  # a piece at a time, as a client's upload comes
            await stream.aclose()
            stop.set()
        high_water = stream._transport.get_write_buffer_limits()[1]
        assert max(waiting) <= high_water + COALESCE_LIMIT

    run(loop_factory, scenario())

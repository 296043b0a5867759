"""``colonnade.chunked``: chunked bodies read a buffer at a time, with h11's answers otherwise.

The reader is compared with h11's own ``ChunkedReader`` on the same bytes, split every way; then used
by a real h11 connection, and by an upstream client reading a real server on loopback.
"""

from __future__ import annotations

import asyncio
import random

import h11
import pytest
from h11._readers import READERS, ChunkedReader
from h11._receivebuffer import ReceiveBuffer

from colonnade import chunked
from colonnade.chunked import JoinedChunkedReader
from colonnade.netbackend import UpstreamClient


def chunk(data: bytes, extension: bytes = b"") -> bytes:
    return b"%x%s\r\n%s\r\n" % (len(data), extension, data)


#: A body of many chunks as an SSE upstream sends them, an extension, and trailers.
EVENTS = [b'data: {"n": %d}\n\n' % n for n in range(40)]
BODY = (
    b"".join(chunk(event) for event in EVENTS)
    + chunk(b"x" * 300, b";name=value")
    + b"0\r\nX-Done: yes\r\n\r\n"
)


def read_all(reader: ChunkedReader, pieces: list[bytes]) -> tuple[list[bytes], object]:
    """Feed ``pieces`` one after the other, asking the reader for events after each, as h11 does.

    Returns the data of the ``Data`` events and how the body ended (``EndOfMessage``, an exception or
    ``None`` if it had not yet).
    """
    buf = ReceiveBuffer()
    data: list[bytes] = []
    for piece in pieces:
        buf += piece
        while True:
            try:
                event = reader(buf)
            except h11.ProtocolError as error:
                return data, error
            if event is None:
                break
            if isinstance(event, h11.EndOfMessage):
                return data, event
            data.append(bytes(event.data))
    return data, None


def splits(body: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(body)), rng.randint(0, 12)))
    return [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True)]


def test_whole_chunks_buffered_together_are_one_event():
    data, end = read_all(JoinedChunkedReader(), [BODY])
    assert data == [b"".join(EVENTS) + b"x" * 300]
    assert isinstance(end, h11.EndOfMessage)
    assert list(end.headers) == [(b"x-done", b"yes")]


def test_each_read_is_answered_with_everything_it_completed():
    first, second = BODY[:100], BODY[100:]
    data, end = read_all(JoinedChunkedReader(), [first, second])
    # The first read holds some whole chunks and the start of another: all of it comes out at once.
    expected_first, _ = read_all(ChunkedReader(), [first])
    assert data[0] == b"".join(expected_first)
    assert b"".join(data) == b"".join(EVENTS) + b"x" * 300
    assert isinstance(end, h11.EndOfMessage)


@pytest.mark.parametrize("seed", range(200))
def test_any_split_gives_h11s_bytes_and_ending(seed):
    rng = random.Random(seed)
    pieces = splits(BODY, rng)
    joined, joined_end = read_all(JoinedChunkedReader(), pieces)
    own, own_end = read_all(ChunkedReader(), pieces)
    assert b"".join(joined) == b"".join(own)
    assert len(joined) <= len(own)
    assert type(joined_end) is type(own_end)
    assert list(joined_end.headers) == list(own_end.headers)


@pytest.mark.parametrize(
    "bad",
    [
        b"zz\r\noops\r\n",  # a chunk size that is not hex
        b"5\r\nhelloXX",  # a chunk not followed by CRLF
        b"-1\r\n",
        b"0" * 20 + b"5\r\nhello\r\n",  # more than the 20 hex digits h11 allows
        b"0x5\r\nhello\r\n",  # sizes Python's int() takes and HTTP does not
        b"1_0\r\n" + b"x" * 16 + b"\r\n",
        b" 5\r\nhello\r\n",
    ],
)
@pytest.mark.parametrize("seed", range(20))
def test_a_malformed_chunk_after_good_ones_fails_as_in_h11_once_they_are_read(bad, seed):
    body = b"".join(chunk(event) for event in EVENTS[:5]) + bad + b"0\r\n\r\n"
    pieces = splits(body, random.Random(seed))
    joined, joined_end = read_all(JoinedChunkedReader(), pieces)
    own, own_end = read_all(ChunkedReader(), pieces)
    assert b"".join(joined) == b"".join(own)
    assert isinstance(own_end, h11.ProtocolError)
    assert type(joined_end) is type(own_end)


@pytest.mark.parametrize("seed", range(20))
def test_chunk_sizes_written_every_allowed_way_read_as_in_h11(seed):
    body = b"".join(
        [
            b"1A\r\n" + b"u" * 26 + b"\r\n",  # upper-case digits
            b"0000000000000000000a\r\n" + b"z" * 10 + b"\r\n",  # 20 digits, leading zeros
            b"3 \t\r\nabc\r\n",  # spaces after the size
            b"3;x=1\r\ndef\r\n",  # an extension
            b"0\r\n\r\n",
        ]
    )
    pieces = splits(body, random.Random(seed))
    joined, joined_end = read_all(JoinedChunkedReader(), pieces)
    own, own_end = read_all(ChunkedReader(), pieces)
    assert b"".join(joined) == b"".join(own) == b"u" * 26 + b"z" * 10 + b"abcdef"
    assert isinstance(joined_end, h11.EndOfMessage) and isinstance(own_end, h11.EndOfMessage)


def test_the_end_of_the_stream_mid_chunk_is_h11s_error():
    reader = JoinedChunkedReader()
    data, end = read_all(reader, [chunk(b"hello") + b"a\r\nabc"])
    assert b"".join(data) == b"helloabc" and end is None
    with pytest.raises(h11.RemoteProtocolError, match="incomplete chunked read"):
        reader.read_eof()


def test_install_puts_it_in_h11s_table_and_an_h11_connection_uses_it():
    assert chunked.install()
    assert READERS[h11.SEND_BODY]["chunked"] is JoinedChunkedReader
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method="GET", target="/", headers=[("Host", "upstream")]))
    connection.send(h11.EndOfMessage())
    connection.receive_data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + BODY)
    events = []
    while not isinstance(events[-1:] and events[-1], h11.EndOfMessage):
        events.append(connection.next_event())
    assert [type(event) for event in events] == [h11.Response, h11.Data, h11.EndOfMessage]
    # The connection is ready for its next request, as after h11's own reader.
    connection.start_next_cycle()
    assert connection.our_state is h11.IDLE


def test_install_leaves_a_table_it_does_not_recognise(monkeypatch):
    class SomeoneElsesReader(ChunkedReader):
        pass

    monkeypatch.setitem(READERS[h11.SEND_BODY], "chunked", SomeoneElsesReader)
    assert not chunked.install()
    assert READERS[h11.SEND_BODY]["chunked"] is SomeoneElsesReader


def test_an_upstream_client_reads_a_burst_of_chunks_as_one_piece():
    """A real server on loopback writes 40 SSE events as 40 chunks in one write, then more later."""

    async def main() -> list[bytes]:
        later = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            writer.write(b"".join(chunk(event) for event in EVENTS))
            await later.wait()
            writer.write(chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pieces = []
        url = f"http://127.0.0.1:{port}/"
        async with server, UpstreamClient() as client, client.stream("GET", url) as response:
            async for piece in response.aiter_raw():
                pieces.append(piece)
                later.set()
        return pieces

    pieces = asyncio.run(main())
    assert pieces[0] == b"".join(EVENTS)
    assert b"".join(pieces[1:]) == b"data: [DONE]\n\n"


def test_serving_installs_it_for_request_bodies(monkeypatch):
    from colonnade.hypercorn_adjustments import install_joined_chunked_reader

    monkeypatch.setitem(READERS[h11.SEND_BODY], "chunked", ChunkedReader)
    install_joined_chunked_reader()
    assert READERS[h11.SEND_BODY]["chunked"] is JoinedChunkedReader

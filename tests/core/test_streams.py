"""``colonnade.streams``: coalescing a relayed stream, and draining an upstream answer."""

from __future__ import annotations

import asyncio

import pytest

from colonnade.streams import coalesce, drain


class Source:
    """An async iterator fed by the test, recording whether it was closed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.closed = False

    def __aiter__(self) -> Source:
        return self

    async def __anext__(self) -> bytes:
        item = await self.queue.get()
        if item is StopAsyncIteration:
            raise StopAsyncIteration
        if isinstance(item, Exception):
            raise item
        return item

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.asyncio
async def test_a_lone_chunk_goes_out_at_once():
    source = Source()
    relayed = coalesce(source)
    source.queue.put_nowait(b"first")
    assert await anext(relayed) == b"first"
    source.queue.put_nowait(b"second")
    assert await anext(relayed) == b"second"
    source.queue.put_nowait(StopAsyncIteration)
    with pytest.raises(StopAsyncIteration):
        await anext(relayed)
    assert source.closed


@pytest.mark.asyncio
async def test_the_first_chunk_goes_out_before_the_rest_is_read():
    """A source that never waits (its upstream's bytes already buffered) must not hold the first
    chunk back until it has given everything."""
    produced = []

    async def eager():
        for piece in (b"a", b"b", b"c"):
            produced.append(piece)
            yield piece

    relayed = coalesce(eager())
    assert await anext(relayed) == b"a"
    assert produced == [b"a"]
    assert b"".join([chunk async for chunk in relayed]) == b"bc"


@pytest.mark.asyncio
async def test_chunks_that_arrive_while_the_client_is_busy_go_out_as_one_write():
    source = Source()
    relayed = coalesce(source)
    source.queue.put_nowait(b"a")
    assert await anext(relayed) == b"a"
    for piece in (b"b", b"c", b"d"):
        source.queue.put_nowait(piece)
    # Let the reading task take all three before the client asks again.
    while not source.queue.empty():
        await asyncio.sleep(0)
    assert await anext(relayed) == b"bcd"
    source.queue.put_nowait(StopAsyncIteration)
    assert [chunk async for chunk in relayed] == []


@pytest.mark.asyncio
async def test_a_failure_is_raised_after_the_bytes_read_before_it():
    source = Source()
    relayed = coalesce(source)
    source.queue.put_nowait(b"partial")
    source.queue.put_nowait(ValueError("upstream broke off"))
    received = []
    with pytest.raises(ValueError, match="upstream broke off"):
        async for chunk in relayed:
            received.append(chunk)
    assert b"".join(received) == b"partial"


@pytest.mark.asyncio
async def test_closing_the_relay_stops_reading_and_closes_the_source():
    source = Source()
    relayed = coalesce(source)
    source.queue.put_nowait(b"one")
    assert await anext(relayed) == b"one"
    await relayed.aclose()  # the client went away while the upstream had nothing new
    assert source.closed


@pytest.mark.asyncio
async def test_reading_pauses_at_the_high_water_mark():
    source = Source()
    relayed = coalesce(source, high_water=4)
    for piece in (b"12", b"34", b"56", b"78"):
        source.queue.put_nowait(piece)
    assert await anext(relayed) == b"12"  # the first chunk, as it came
    assert await anext(relayed) == b"3456"
    assert source.queue.qsize() == 1  # the reader stopped once 4 bytes waited
    source.queue.put_nowait(StopAsyncIteration)
    assert b"".join([chunk async for chunk in relayed]) == b"78"


@pytest.mark.asyncio
async def test_drain_reads_to_the_end_and_gives_up_on_a_stream_that_stays_open():
    finished = Source()
    for piece in (b"rest", StopAsyncIteration):
        finished.queue.put_nowait(piece)
    await drain(finished)
    assert finished.queue.empty()

    stays_open = Source()
    await drain(stays_open, seconds=0.01)  # returns instead of waiting for ever


@pytest.mark.asyncio
async def test_a_reader_that_swallows_a_cancellation_does_not_hang_the_client(monkeypatch):
    import colonnade.streams as streams

    monkeypatch.setattr(streams, "_STOP_INTERVAL", 0.01)
    swallowed = []
    waiting = asyncio.Event()

    async def stubborn():
        yield b"first"
        try:
            waiting.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.append(True)  # swallowed once, as wait_for may
        await asyncio.Event().wait()  # the next cancellation ends it
        yield b"never"

    relayed = coalesce(stubborn())
    assert await anext(relayed) == b"first"
    await waiting.wait()  # the reading task is inside the source
    await relayed.aclose()
    assert swallowed == [True]

"""Helpers for relaying upstream streams."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

log = logging.getLogger("colonnade.streams")

#: After the end of a stream (``[DONE]``, ``"done": true``), how long the rest of the upstream's
#: answer (the chunked encoding's last chunk, usually in the same packet) is waited for.
DRAIN_SECONDS = 1.0


async def drain(chunks: AsyncIterator[bytes], seconds: float = DRAIN_SECONDS) -> None:
    """Read an upstream answer to its end, so that its connection goes back to the pool.

    An httpx response closed before its last byte was read closes its connection, and the next
    request to that upstream opens a new one (a TCP handshake, and a thread for the address lookup)
    before it can send anything. Call this once a stream has said it is finished; an upstream that
    keeps the answer open after that is given up on after ``seconds``, and a transport error here
    changes nothing for a client that already has the whole stream.
    """
    try:
        async with asyncio.timeout(seconds):
            async for _ in chunks:
                pass
    except Exception:  # noqa: BLE001 - best effort: the connection is dropped instead of reused
        pass


async def coalesce(chunks: AsyncIterator[bytes], high_water: int = 256 * 1024) -> AsyncIterator[bytes]:
    """Relay ``chunks`` as they arrive, joining those that arrived while the last write was going out.

    The first chunk is passed on as it comes. After it, the stream is read in a task of its own;
    whatever it has buffered by the time the client side asks for more goes out as one write. A lone
    chunk still goes out at once, but a busy server sends one write for many small events instead of
    one each, which is most of the cost of relaying a stream. Reading pauses while ``high_water``
    bytes wait. An exception from ``chunks`` is raised here after the bytes read before it; closing
    this iterator (a client going away) cancels the reading task and closes ``chunks``.
    """
    # The first chunk goes out from here, as it comes: in the same write as the answer's head, before
    # the reading task starts (a source with more already buffered would keep the event loop to itself
    # and hold the first byte back until it had read all of it).
    source = aiter(chunks)
    try:
        first = await anext(source)
    except StopAsyncIteration:
        return
    except BaseException:
        await _close(chunks)
        raise
    buffer = bytearray()
    arrived = asyncio.Event()
    taken = asyncio.Event()
    ended = False
    failure: BaseException | None = None

    async def read() -> None:
        nonlocal ended, failure
        try:
            async for chunk in source:
                buffer.extend(chunk)
                arrived.set()
                while len(buffer) >= high_water:
                    taken.clear()
                    await taken.wait()
        except Exception as error:  # noqa: BLE001 - handed to the consumer, raised there
            failure = error
        finally:
            ended = True
            arrived.set()

    reader = asyncio.create_task(read())
    try:
        yield first
        while True:
            await arrived.wait()
            arrived.clear()
            if buffer:
                data = bytes(buffer)
                buffer.clear()
                taken.set()
                yield data
            if ended and not buffer:
                if failure is not None:
                    raise failure
                return
    finally:
        await _stop(reader)
        await _close(chunks)


async def _close(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


#: How often, and how many times, a reading task that has not stopped is cancelled again.
_STOP_INTERVAL = 0.5
_STOP_ATTEMPTS = 6


async def _stop(reader: asyncio.Task) -> None:
    """Cancel the reading task and wait for it, cancelling again while it runs on.

    Code the task is awaiting may swallow a cancellation (``asyncio.wait_for`` does in Python 3.11 when
    its result arrives at the same moment); waiting for it unconditionally would hang the request. A
    task still running after a few attempts is left behind, with a warning.
    """
    for _ in range(_STOP_ATTEMPTS):
        if reader.done():
            break
        reader.cancel()
        await asyncio.wait({reader}, timeout=_STOP_INTERVAL)
    else:
        if not reader.done():
            log.warning("a relayed stream's reader ignored %d cancellations; left running", _STOP_ATTEMPTS)

"""``colonnade.httpcore_locks``: httpcore's lock and event without a trip round the event loop when
nothing waits, and exactly as before when something does."""

from __future__ import annotations

import asyncio

import httpcore
import httpx
import pytest
from httpcore import _synchronization
from httpcore._async import connection, connection_pool, http11

from colonnade import httpcore_locks
from colonnade.httpcore_locks import FastAcquireLock, SetEventWait
from colonnade.netbackend import UpstreamClient


async def yielded_during(operation) -> bool:
    """Whether the event loop ran other callbacks while ``operation()`` was awaited."""
    ran: list[bool] = []
    asyncio.get_running_loop().call_soon(ran.append, True)
    await operation()
    return bool(ran)


async def acquire_and_release(lock) -> None:
    async with lock:
        pass


def test_acquiring_a_free_lock_does_not_yield_where_httpcores_own_lock_does():
    async def main() -> tuple[bool, bool]:
        ours = await yielded_during(lambda: acquire_and_release(FastAcquireLock()))
        theirs = await yielded_during(lambda: acquire_and_release(_synchronization.AsyncLock()))
        return ours, theirs

    assert asyncio.run(main()) == (False, True)


def test_a_held_lock_is_waited_for_and_a_cancelled_waiter_never_takes_it():
    async def main() -> list[str]:
        lock = FastAcquireLock()
        order: list[str] = []

        async def holder(name: str, release: asyncio.Event) -> None:
            async with lock:
                order.append(f"{name} in")
                await release.wait()
                order.append(f"{name} out")

        first_release, second_release = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(holder("first", first_release))
        await asyncio.sleep(0)  # first takes the lock
        cancelled = asyncio.create_task(holder("cancelled", asyncio.Event()))
        second = asyncio.create_task(holder("second", second_release))
        await asyncio.sleep(0)  # both queue behind first
        cancelled.cancel()
        first_release.set()
        second_release.set()
        await asyncio.gather(first, second)
        assert cancelled.cancelled()
        async with lock:  # free again
            order.append("after")
        return order

    assert asyncio.run(main()) == ["first in", "first out", "second in", "second out", "after"]


def test_waiting_on_a_set_event_returns_at_once_and_on_an_unset_one_as_before():
    async def main() -> None:
        event = SetEventWait()
        event.set()
        assert not await yielded_during(event.wait)
        assert await yielded_during(_set(_synchronization.AsyncEvent()).wait)  # httpcore's own

        waited = SetEventWait()
        waiter = asyncio.create_task(waited.wait(timeout=5))
        await asyncio.sleep(0)
        assert not waiter.done()
        waited.set()
        await waiter

        with pytest.raises(httpcore.PoolTimeout):
            await SetEventWait().wait(timeout=0.01)

    asyncio.run(main())


def _set(event):
    event.set()
    return event


def test_install_swaps_httpcores_classes_in_its_http11_pool():
    assert httpcore_locks.install()
    assert httpcore_locks.installed()
    assert connection.AsyncLock is FastAcquireLock
    assert http11.AsyncLock is FastAcquireLock
    assert connection_pool.AsyncEvent is SetEventWait
    assert httpcore_locks.install()  # again: nothing changes


def test_install_changes_nothing_when_a_class_is_not_httpcores(monkeypatch):
    class SomeoneElsesLock(_synchronization.AsyncLock):
        pass

    monkeypatch.setattr(connection, "AsyncLock", SomeoneElsesLock)
    monkeypatch.setattr(http11, "AsyncLock", _synchronization.AsyncLock)
    monkeypatch.setattr(connection_pool, "AsyncEvent", _synchronization.AsyncEvent)
    assert not httpcore_locks.install()
    assert connection.AsyncLock is SomeoneElsesLock
    assert http11.AsyncLock is _synchronization.AsyncLock
    assert connection_pool.AsyncEvent is _synchronization.AsyncEvent


def test_a_one_connection_pool_serves_concurrent_requests_in_turn_and_times_out_when_full():
    """A real server on loopback; eight requests share one pooled connection, so all but one wait for
    it (the event not yet set) and each takes the connection's locks in turn."""

    async def main() -> None:
        connections = 0
        answered = 0

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections, answered
            connections += 1
            while not reader.at_eof():
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                path = head.split(b" ")[1]
                answered += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path))
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with server, UpstreamClient(limits=limits) as client:
            assert httpcore_locks.installed()
            answers = await asyncio.gather(*(client.get(f"{base}/{n}") for n in range(8)))
            assert [answer.text for answer in answers] == [f"/{n}" for n in range(8)]

            async with client.stream("GET", f"{base}/held") as held:
                with pytest.raises(httpx.PoolTimeout):
                    await client.get(f"{base}/blocked", timeout=httpx.Timeout(5, pool=0.01))
                await held.aread()
            assert (await client.get(f"{base}/after")).text == "/after"
        assert connections == 1
        assert answered == 10

    asyncio.run(main())

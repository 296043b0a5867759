"""hypercorn as ``colonnade serve`` runs it (:class:`colonnade.hypercorn_adjustments.PromptIdleTask`): a kept
connection's keep-alive timeout is cancelled without a wait when its next request arrives, and still
closes the connection once it has been idle long enough."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest
from hypercorn.asyncio import serve, tcp_server
from hypercorn.asyncio.worker_context import AsyncioSingleTask
from hypercorn.config import Config
from quart import Quart

from colonnade.hypercorn_adjustments import PromptIdleTask, install_prompt_idle_tasks


async def yielded_during(operation) -> bool:
    """Whether the event loop ran other callbacks while ``operation()`` was awaited."""
    ran: list[bool] = []
    asyncio.get_running_loop().call_soon(ran.append, True)
    await operation()
    return bool(ran)


class Group:
    """What ``restart`` is given: hypercorn's task group keeps an asyncio one as ``_task_group``."""

    def __init__(self) -> None:
        self._task_group = asyncio.get_running_loop()


def test_install_swaps_hypercorns_idle_task_for_connections(monkeypatch):
    monkeypatch.setattr(tcp_server, "AsyncioSingleTask", AsyncioSingleTask)
    assert install_prompt_idle_tasks()
    assert tcp_server.AsyncioSingleTask is PromptIdleTask
    assert install_prompt_idle_tasks()  # again: nothing changes


def test_install_changes_nothing_when_hypercorn_has_another_shape(monkeypatch):
    class SomeoneElses:
        pass

    monkeypatch.setattr(tcp_server, "AsyncioSingleTask", SomeoneElses)
    assert not install_prompt_idle_tasks()
    assert tcp_server.AsyncioSingleTask is SomeoneElses


@pytest.mark.asyncio
async def test_stopping_cancels_the_task_without_waiting_for_it():
    idle = PromptIdleTask()
    started = asyncio.Event()

    async def timeout() -> None:
        started.set()
        await asyncio.Event().wait()

    await idle.restart(Group(), timeout)
    task = idle._task
    await started.wait()
    assert not await yielded_during(idle.stop)
    assert task.cancelling() == 1 and not task.done()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
async def test_restarting_cancels_the_previous_task():
    idle = PromptIdleTask()
    await idle.restart(Group(), lambda: asyncio.sleep(60))
    first = idle._task
    await idle.restart(Group(), lambda: asyncio.sleep(60))
    assert first.cancelling() == 1 and idle._task is not first
    await idle.stop()
    await asyncio.gather(first, return_exceptions=True)


@pytest.mark.asyncio
async def test_a_kept_connection_serves_several_requests_then_closes_once_idle(monkeypatch):
    """A real hypercorn server on loopback: the timeout is stopped and restarted around each request
    of one connection, and the last one still closes the idle connection."""
    monkeypatch.setattr(tcp_server, "AsyncioSingleTask", AsyncioSingleTask)
    assert install_prompt_idle_tasks()
    app = Quart("idle")

    @app.get("/<int:number>")
    async def answer(number: int) -> str:
        return f"answer {number}"

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    config = Config()
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.accesslog = None
    config.errorlog = None
    config.keep_alive_timeout = 0.2
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        reader, writer = await asyncio.open_connection(*sock.getsockname())
        for number in range(3):
            writer.write(f"GET /{number} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            assert await reader.readexactly(length) == f"answer {number}".encode()
        idle_since = time.monotonic()
        # The server closes the connection when the timeout fires; a hang here fails on the 5 s bound.
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""
        assert time.monotonic() - idle_since >= 0.15
        writer.close()
    finally:
        stop.set()
        await server
        sock.close()

"""What ``colonnade serve`` changes in hypercorn, process-wide, before it serves.

:func:`adjust_hypercorn` applies all of them; ``colonnade serve``, its spawned workers, the test
suite's ``serve_app`` and the benchmark's bare relay call it, so that they all serve the same way. Each
one checks that hypercorn (or h11) has the shape it was written for and otherwise changes nothing.

- :func:`explain_protocol_errors`: the answers hypercorn sends by itself get a JSON ``detail``.
- :func:`combine_response_writes`: a response's head leaves with its body, in one write.
- :class:`PromptIdleTask`: a kept connection's keep-alive timeout is cancelled without waiting.
- :func:`install_joined_chunked_reader`: chunked request bodies are read a buffer at a time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any


def adjust_hypercorn() -> None:
    """Apply every adjustment of this module (each is applied once, however often this is called)."""
    explain_protocol_errors()
    combine_response_writes()
    install_prompt_idle_tasks()
    install_joined_chunked_reader()


#: What hypercorn's own error answers (a request it could not parse) say.
PROTOCOL_ERROR_DETAILS = {
    400: "Malformed HTTP request",
    431: "The request line or headers are too large (at most {size} KiB in all)",
}


def explain_protocol_errors() -> None:
    """Give the answers hypercorn sends by itself, before any application code runs, a JSON body.

    A request h11 cannot parse (a URL or headers beyond ``h11_max_incomplete_size``, 16 KiB by
    default; a malformed request line) is answered by hypercorn with an empty 400 or 431; clients
    then get ``{"detail": ...}`` like every other error.
    """
    from hypercorn.protocol.h11 import H11Protocol

    if getattr(H11Protocol._send_error_response, "_colonnade", False):
        return
    import h11

    async def send_error_response(self: Any, status_code: int) -> None:
        size = self.config.h11_max_incomplete_size // 1024
        detail = PROTOCOL_ERROR_DETAILS.get(status_code, "Bad request").format(size=size)
        body = json.dumps({"detail": detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *self.config.response_headers("h11"),
        ]
        await self._send_h11_event(h11.Response(status_code=status_code, headers=headers))
        await self._send_h11_event(h11.Data(data=body))
        await self._send_h11_event(h11.EndOfMessage())

    send_error_response._colonnade = True  # type: ignore[attr-defined]
    H11Protocol._send_error_response = send_error_response  # type: ignore[method-assign]


def install_joined_chunked_reader() -> None:
    """Chunked request bodies are read as upstream answers are, a buffer at a time
    (:mod:`colonnade.chunked`), whether or not an upstream client was made yet."""
    from colonnade import chunked

    chunked.install()


class PromptIdleTask:
    """A connection's keep-alive timeout, for hypercorn: stopped without waiting for the cancelled task.

    hypercorn runs the timeout between two requests of a kept connection as a task and, when the next
    request's head arrives, cancels it and awaits the cancellation (through the task's own
    ``asyncio.wait_for``) before it even makes the request a stream: five turns of the event loop for
    every request after a connection's first. At 16 concurrent streams each turn relays a batch of every
    stream, so the wait came to several milliseconds before the application was called. Here the task is
    cancelled and forgotten; it ends on its own, in the background. Nothing waited for its end but that
    ``await``: the timeout only closes an idle connection, and a cancelled one closes nothing.
    """

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None

    async def restart(self, task_group: Any, action: Callable[[], Any]) -> None:
        self._cancel()
        # In the connection's task group, as hypercorn's own does, so that it ends with the connection.
        tasks = getattr(task_group, "_task_group", None) or asyncio.get_running_loop()
        self._task = tasks.create_task(action())

    async def stop(self) -> None:
        self._cancel()

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


def install_prompt_idle_tasks() -> bool:
    """Give hypercorn's TCP connections a :class:`PromptIdleTask`; ``False`` (nothing changed) if
    hypercorn's server module is not the shape it was written for."""
    from hypercorn.asyncio import tcp_server
    from hypercorn.asyncio.worker_context import AsyncioSingleTask

    if getattr(tcp_server, "AsyncioSingleTask", None) not in (AsyncioSingleTask, PromptIdleTask):
        return False
    tcp_server.AsyncioSingleTask = PromptIdleTask  # type: ignore[attr-defined,misc]
    return True


def combine_response_writes() -> None:
    """Send an HTTP/1.1 response's head together with its body instead of one write each.

    hypercorn writes the status line and headers, each body chunk and the end of the message
    separately, each a socket write behind a lock: three for the smallest JSON answer. The head is
    held back until the next write of the same connection (the body, which Quart sends right after it
    for any answer it has in memory) and goes out with it; if nothing follows within the same turn of
    the event loop (a stream still waiting for its first chunk), it goes out alone, as before. An
    empty write (the end of a body whose length was announced) is not made at all.
    """
    from hypercorn.events import RawData
    from hypercorn.protocol.h11 import H11Protocol

    if getattr(H11Protocol._send_h11_event, "_colonnade", False):
        return
    import h11

    async def send_h11_event(self: Any, event: Any) -> None:
        try:
            data = self.connection.send(event)
        except h11.LocalProtocolError:
            if self.connection.their_state != h11.ERROR:
                raise
            return
        flushing = self.__dict__.pop("_colonnade_flushing", None)
        if flushing is not None:
            await flushing  # the head went out on its own: it must arrive before what follows it
        held = self.__dict__.pop("_colonnade_held_head", None)
        if held is not None:
            data = held + data
        elif type(event) is h11.Response:
            self._colonnade_held_head = data
            asyncio.get_running_loop().call_soon(_flush_held_head, self)
            return
        if data:
            await self.send(RawData(data=data))

    send_h11_event._colonnade = True  # type: ignore[attr-defined]
    H11Protocol._send_h11_event = send_h11_event  # type: ignore[method-assign]


def _flush_held_head(protocol: Any) -> None:
    """Send a head nothing followed within its turn of the event loop, as a task of its own; the next
    write of the connection waits for that task, so the head always goes first."""
    held = protocol.__dict__.pop("_colonnade_held_head", None)
    if held is not None:
        from hypercorn.events import RawData

        protocol._colonnade_flushing = asyncio.get_running_loop().create_task(
            protocol.send(RawData(data=held))
        )

"""Running function code off the host's event loop, with a timeout, so that it cannot stall the host.

Every call gets a thread of its own with a private event loop: a sync method runs there directly, an
async one on that loop, and a generator or async generator a pipe returns is iterated there, its items
handed to the host's loop through a bounded queue as they are produced. The host waits with a
deadline (``[plugins.functions] timeout_seconds`` for the whole call, stream included). When the
deadline passes, or the client goes away, the call is abandoned: the thread's loop task is cancelled
(which stops code that awaits) and a generator is closed at its next item. Python cannot kill a
thread, so code stuck in a CPU loop keeps its (daemon) thread busy until it returns; the host still
answers every other request, and the caller gets a 504 at the deadline.

Objects shared with the host's loop (``__event_emitter__``, ``__event_call__``) are wrapped so that
awaiting them from the function's loop runs them on the host's loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger("colonnade.functions")

#: Items a streaming function may run ahead of the client before it waits.
STREAM_BUFFER = 64

_VALUE, _ITEM, _END, _ERROR = "value", "item", "end", "error"


class FunctionTimeout(Exception):
    """A call ran past its deadline and was abandoned."""


class FunctionFailed(Exception):
    """The function raised; ``error`` is what it raised."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _is_stream(value: Any) -> bool:
    if isinstance(value, (str, bytes, dict, list, tuple)):
        return False
    return (
        inspect.isasyncgen(value)
        or inspect.isgenerator(value)
        or (hasattr(value, "__anext__") or (hasattr(value, "__next__") and hasattr(value, "__iter__")))
    )


class Call:
    """One function call in its own thread; ``await call.result()`` or ``async for item in call.items()``.

    :param target: The function (sync or async) to call.
    :param kwargs: Its keyword arguments.
    :param timeout: Seconds the whole call may take.
    :param label: Names the call in logs and thread names.
    """

    def __init__(
        self, target: Callable[..., Any], kwargs: dict[str, Any], timeout: float, label: str
    ) -> None:
        self.target = target
        self.kwargs = kwargs
        self.timeout = timeout
        self.label = label
        self.deadline = 0.0
        self._host_loop = asyncio.get_running_loop()
        self._messages: queue.Queue[tuple[str, Any]] = queue.Queue(STREAM_BUFFER)
        self._wake = asyncio.Event()
        self._stopped = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._streaming = False

    # -- the function's thread -------------------------------------------------------------------

    def start(self) -> Call:
        self.deadline = time.monotonic() + self.timeout
        thread = threading.Thread(target=self._run, name=f"colonnade-function-{self.label}", daemon=True)
        thread.start()
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._task = loop.create_task(self._main())
            loop.run_until_complete(self._task)
        except BaseException:  # noqa: BLE001 - cancelled or stopped: the host already moved on
            pass
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            except BaseException:  # noqa: BLE001
                pass
            loop.close()

    async def _main(self) -> None:
        try:
            value = self.target(**self.kwargs)
            if inspect.isawaitable(value):
                value = await value
            if not _is_stream(value):
                self._send(_VALUE, value)
                return
            self._streaming = True
            if hasattr(value, "__anext__"):
                try:
                    async for item in value:
                        if not self._send(_ITEM, item):
                            break
                finally:
                    aclose = getattr(value, "aclose", None)
                    if aclose is not None:
                        await aclose()
            else:
                try:
                    for item in value:
                        if not self._send(_ITEM, item):
                            break
                        await asyncio.sleep(0)  # let cancellation in between items
                finally:
                    close = getattr(value, "close", None)
                    if close is not None:
                        close()
            self._send(_END, None)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # noqa: BLE001 - reported to the host, never raised here
            self._send(_ERROR, error)

    def _send(self, kind: str, payload: Any) -> bool:
        """Queue a message for the host; ``False`` once the host stopped listening or the deadline
        passed (a host that never reads again cannot keep the thread waiting)."""
        while not self._stopped.is_set() and time.monotonic() < self.deadline:
            try:
                self._messages.put((kind, payload), timeout=0.25)
            except queue.Full:
                continue
            try:
                self._host_loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the host loop is closed
                return False
            return True
        return False

    # -- the host's side -------------------------------------------------------------------------

    def stop(self) -> None:
        """Abandon the call: cancel what awaits in the thread, close a generator at its next item."""
        self._stopped.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass

    async def _next(self) -> tuple[str, Any]:
        while True:
            self._wake.clear()
            try:
                message = self._messages.get_nowait()
            except queue.Empty:
                pass
            else:
                # Let the loop run between items: a function producing faster than the client reads
                # must not starve other requests (or the client's disconnect) of the loop.
                await asyncio.sleep(0)
                return message
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise FunctionTimeout(f"timed out after {self.timeout:g} s")
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                raise FunctionTimeout(f"timed out after {self.timeout:g} s") from None

    async def first(self) -> tuple[str, Any]:
        """The first message: ``("value", v)``, ``("item", first item)``, ``("end", None)``."""
        try:
            kind, payload = await self._next()
        except BaseException:
            self.stop()
            raise
        if kind == _ERROR:
            self.stop()
            raise FunctionFailed(payload)
        if kind in (_VALUE, _END):
            self.stop()
        return kind, payload

    async def rest(self) -> AsyncIterator[Any]:
        """The remaining items of a stream; raises :class:`FunctionFailed` / :class:`FunctionTimeout`."""
        try:
            while True:
                kind, payload = await self._next()
                if kind == _END:
                    return
                if kind == _ERROR:
                    raise FunctionFailed(payload)
                yield payload
        finally:
            self.stop()


async def call(target: Callable[..., Any], kwargs: dict[str, Any], timeout: float, label: str) -> Any:
    """Call ``target(**kwargs)`` off the loop and return its value; a stream is collected into a list."""
    running = Call(target, kwargs, timeout, label).start()
    kind, payload = await running.first()
    if kind == _VALUE:
        return payload
    if kind == _END:
        return []
    items = [payload]
    async for item in running.rest():
        items.append(item)
    return items


async def call_streaming(
    target: Callable[..., Any], kwargs: dict[str, Any], timeout: float, label: str
) -> tuple[bool, Any]:
    """Call ``target``; ``(False, value)`` for a plain value, ``(True, Stream)`` for a stream.

    The stream's first item has already been produced when this returns, so a function that fails at
    once fails here.
    """
    running = Call(target, kwargs, timeout, label).start()
    kind, payload = await running.first()
    if kind == _VALUE:
        return False, payload
    return True, Stream(running, None if kind == _END else (payload,))


class Stream:
    """The items of a streaming call as an async iterator; ``aclose()`` abandons the call even when
    iteration never started (an async generator that never ran would skip its ``finally``)."""

    def __init__(self, running: Call, first: tuple[Any] | None) -> None:
        self._running = running
        self._first = first
        self._ended = first is None
        self._rest: AsyncIterator[Any] | None = None

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> Any:
        if self._first is not None:
            item, self._first = self._first[0], None
            return item
        if self._ended:
            raise StopAsyncIteration
        if self._rest is None:
            self._rest = self._running.rest()
        try:
            return await anext(self._rest)
        except StopAsyncIteration:
            self._ended = True
            raise

    async def aclose(self) -> None:
        self._ended = True
        self._running.stop()
        if self._rest is not None:
            await self._rest.aclose()


async def run_blocking(target: Callable[[], Any], timeout: float, label: str) -> Any:
    """A blocking call (loading a module) in its own thread, abandoned at the deadline."""
    return await call(lambda: target(), {}, timeout, label)


class Session:
    """A thread with its own loop for many short calls of one function, one after the other.

    A stream filter's ``stream`` runs once per chunk; a thread and a loop per chunk would cost about
    half a millisecond each, so a stream gets one session instead. A call past its timeout breaks the
    session: later calls fail at once and the thread is left to finish (or not) on its own.

    :param label: Names the thread.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.broken = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"colonnade-function-{label}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            try:
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            except BaseException:  # noqa: BLE001
                pass
            self._loop.close()

    async def call(self, target: Callable[..., Any], kwargs: dict[str, Any], timeout: float) -> Any:
        if self.broken:
            raise FunctionTimeout(f"timed out after {timeout:g} s earlier in this stream")

        async def run() -> Any:
            value = target(**kwargs)
            if inspect.isawaitable(value):
                value = await value
            return value

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            self.broken = True
            raise FunctionTimeout(f"timed out after {timeout:g} s") from None
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the function's own failure
            raise FunctionFailed(error) from None

    def close(self) -> None:
        if not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._loop.stop)
            except RuntimeError:
                pass


def on_host_loop(host_loop: asyncio.AbstractEventLoop, function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an async callable of the host so that a function awaiting it on its own loop runs it on
    the host's loop."""

    async def bridged(*args: Any, **kwargs: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(function(*args, **kwargs), host_loop)
        return await asyncio.wrap_future(future)

    return bridged

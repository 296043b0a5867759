"""The host's side of a worker process: start it, call into it, relay what it streams, stop or kill it.

A worker is a fresh interpreter (``python -m colonnade.plugins.pipelines.worker``, the equivalent of
multiprocessing's ``spawn`` start method: no memory, no settings from the environment, only the
module's source) talking JSON lines over its stdin and stdout pipes, read by the event loop without
any thread. Several calls may be in flight at once; each answer carries its call's id. A call that
gets no answer within ``timeout`` kills the process (every call in flight on it then fails) and
raises a 504 :class:`WorkerFailure`. A process that dies fails its calls with a 502. Either way
``on_exit`` tells the service, which starts a new process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger("colonnade.pipelines")

#: Longest line (one message) read from a worker.
LINE_LIMIT = 64 * 1024 * 1024

_GONE = {"gone": True}


def worker_environment() -> dict[str, str]:
    """The host's environment without its own settings (``COLONNADE_*``: the signing secret, the
    database URL...); pipelines still see everything else (``OPENAI_API_KEY`` for their valves)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("COLONNADE_")}


class WorkerFailure(Exception):
    """A call into a pipeline failed.

    :param status: 400 (the pipeline refused the input, or its module is broken), 502 (the pipeline
        raised, or its process died), 504 (it took too long and was stopped).
    :param detail: Human-readable, naming the pipeline.
    :param kind: ``"invalid"``, ``"raised"``, ``"died"`` or ``"timeout"``.
    """

    def __init__(self, status: int, detail: str, kind: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind


class PipelineWorker:
    """One worker process running one pipeline module.

    :param pipeline_id: The pipeline's id (named in errors and logs).
    :param source: The module source.
    :param valves: Stored valve values, applied when the module is loaded.
    :param timeout: Seconds one call may wait for its next answer.
    """

    def __init__(self, pipeline_id: str, source: str, valves: dict[str, Any], timeout: float) -> None:
        self.pipeline_id = pipeline_id
        self.source = source
        self.valves = valves
        self.timeout = timeout
        self.info: dict[str, Any] = {}
        self.process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._calls: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._exit_reason: str | None = None
        self._eof = False
        self.started_up = False
        self._stopping = False
        #: Called once with this worker when its process ends without ``stop`` (a crash, or a kill
        #: after a timeout); the service uses it to start a new one.
        self.on_exit: Callable[[PipelineWorker], None] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        process = self.process
        if process is None or process.returncode is not None:
            return False
        return not self._eof and self._exit_reason is None

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self, *, startup: bool, timeout: float) -> dict[str, Any]:
        """Start the process and load the module (running ``on_startup`` when ``startup``).

        :return: What the module declares (see ``worker.Runner.describe``).
        :raises WorkerFailure: the module does not load, ``on_startup`` raised, or it took too long;
            the process is gone then.
        """
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "colonnade.plugins.pipelines.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
            env=worker_environment(),
        )
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._calls[0] = queue
        self._reader = asyncio.create_task(self._read(), name=f"pipeline {self.pipeline_id} reader")
        load = {
            "op": "load",
            "pipeline": self.pipeline_id,
            "source": self.source,
            "valves": self.valves,
            "startup": startup,
        }
        try:
            self._write(load)
            answer = await self._receive(0, queue, timeout, "start")
        except BaseException:
            await self.kill()
            raise
        finally:
            self._calls.pop(0, None)
        if "error" in answer:
            await self.kill()
            detail = f"pipeline {self.pipeline_id!r} did not load: {answer['error']}"
            raise WorkerFailure(400, detail, "invalid")
        self.info = answer.get("result") or {}
        self.started_up = startup
        return self.info

    async def stop(self, *, shutdown: bool, timeout: float) -> None:
        """Run ``on_shutdown`` (when ``shutdown`` and it started up), then end the process."""
        self._stopping = True
        if self.alive and shutdown and self.started_up:
            try:
                await self.call("shutdown", {}, timeout=timeout)
            except WorkerFailure as failure:
                log.warning("on_shutdown of pipeline %r failed: %s", self.pipeline_id, failure.detail)
        process = self.process
        if process is None:
            return
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(Exception):
                process.stdin.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await process.wait()
        await self.kill()

    async def kill(self, reason: str | None = None) -> None:
        """End the process now (if it still runs) and fail every call in flight."""
        process = self.process
        if reason and self._exit_reason is None:
            self._exit_reason = reason
        if process is not None and process.returncode is None and self._eof:
            # Its output ended: it is exiting. Signalling now would reap it behind asyncio's back
            # (Popen polls first) and lose its exit code, so give it a moment to be reaped first.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await process.wait()
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        if process is not None:
            await process.wait()
            if process.stdin is not None:
                with contextlib.suppress(Exception):
                    process.stdin.close()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        self._fail_all()

    def _fail_all(self) -> None:
        for queue in self._calls.values():
            queue.put_nowait(_GONE)

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        try:
            while True:
                line = await stdout.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    log.warning("pipeline %r sent an unreadable line", self.pipeline_id)
                    continue
                queue = self._calls.get(message.get("id")) if isinstance(message, dict) else None
                if queue is not None:
                    queue.put_nowait(message)
        except (ValueError, asyncio.LimitOverrunError):
            log.warning("pipeline %r sent a message over %d bytes; stopping it", self.pipeline_id, LINE_LIMIT)
            self._exit_reason = "it sent a message that is too large"
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        finally:
            self._eof = True
            self._fail_all()
            exited, self.on_exit = self.on_exit, None
            if exited is not None and not self._stopping:
                exited(self)

    # -- calls ------------------------------------------------------------------------------------

    def _write(self, message: dict[str, Any]) -> None:
        if self.process is None or self.process.stdin is None or not self.alive:
            raise self._gone()
        try:
            self.process.stdin.write(json.dumps(message, ensure_ascii=False, default=str).encode() + b"\n")
        except (ConnectionError, RuntimeError):
            raise self._gone() from None

    def _gone(self) -> WorkerFailure:
        process = self.process
        code = process.returncode if process is not None else None
        why = self._exit_reason or (f"exit code {code}" if code is not None else "its pipe closed")
        detail = f"the worker process of pipeline {self.pipeline_id!r} stopped ({why})"
        return WorkerFailure(502, detail, "died")

    async def _receive(
        self, call_id: int, queue: asyncio.Queue[dict[str, Any]], timeout: float, what: str
    ) -> dict[str, Any]:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that arrives
        # just as the item does, and a stream whose client left would then never be closed.
        try:
            async with asyncio.timeout(timeout):
                message = await queue.get()
        except TimeoutError:
            log.warning("pipeline %r: %s took over %s s; killing its worker", self.pipeline_id, what, timeout)
            await self.kill(f"{what} took longer than {timeout:g} s")
            detail = f"pipeline {self.pipeline_id!r} did not answer within {timeout:g} s and was stopped"
            raise WorkerFailure(504, detail, "timeout") from None
        if message is _GONE:
            if self.process is not None and self.process.returncode is None:
                await self.kill()
            raise self._gone()
        return message

    def _open(self, op: str, args: dict[str, Any]) -> tuple[int, asyncio.Queue[dict[str, Any]]]:
        call_id = next(self._ids)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._calls[call_id] = queue
        try:
            self._write({"id": call_id, "op": op, "args": args})
        except WorkerFailure:
            self._calls.pop(call_id, None)
            raise
        return call_id, queue

    def _failure(self, message: dict[str, Any], op: str) -> WorkerFailure:
        if message.get("kind") == "invalid":
            return WorkerFailure(400, str(message["error"]), "invalid")
        detail = f"pipeline {self.pipeline_id!r} failed in {op}: {message['error']}"
        return WorkerFailure(502, detail, "raised")

    async def call(self, op: str, args: dict[str, Any], *, timeout: float | None = None) -> Any:
        """One call answered by one value (``inlet``, ``outlet``, ``valves``...)."""
        kind, value = await self.run(op, args, timeout=timeout)
        if kind == "stream":
            return [item async for item in value]
        return value

    async def run(self, op: str, args: dict[str, Any], *, timeout: float | None = None) -> tuple[str, Any]:
        """Start a call and wait for its first answer.

        :return: ``("value", result)``, or ``("stream", async iterator of items)`` when the pipeline
            answers piece by piece; the iterator relays each piece as the worker sends it, and closing
            it early tells the worker to stop the generator.
        """
        limit = self.timeout if timeout is None else timeout
        call_id, queue = self._open(op, args)
        try:
            first = await self._receive(call_id, queue, limit, op)
        except BaseException:
            self._calls.pop(call_id, None)
            self._cancel(call_id)
            raise
        if "error" in first:
            self._calls.pop(call_id, None)
            raise self._failure(first, op)
        if "result" in first:
            self._calls.pop(call_id, None)
            return "value", first["result"]
        return "stream", self._items(call_id, queue, first, limit, op)

    async def _items(
        self, call_id: int, queue: asyncio.Queue[dict[str, Any]], first: dict[str, Any], limit: float, op: str
    ) -> AsyncIterator[Any]:
        finished = False
        message = first
        try:
            while True:
                if message.get("end"):
                    finished = True
                    return
                if "error" in message:
                    finished = True
                    raise self._failure(message, op)
                yield message.get("item")
                self._ack(call_id)
                message = await self._receive(call_id, queue, limit, op)
        finally:
            self._calls.pop(call_id, None)
            if not finished:
                self._cancel(call_id)

    def _ack(self, call_id: int) -> None:
        """The item was relayed: the worker may produce one more (flow control, see ``worker.WINDOW``)."""
        with contextlib.suppress(WorkerFailure):
            self._write({"op": "ack", "target": call_id, "count": 1})

    def _cancel(self, call_id: int) -> None:
        with contextlib.suppress(WorkerFailure):
            self._write({"op": "cancel", "target": call_id})

"""Hosted pipelines: the stored rows, and the worker process of each active one.

``running`` holds the active pipelines of this host process, each with its worker (started when the
pipeline is activated or the host starts). A worker that crashes or is killed after a timeout is
started again at once (at most every ``RESTART_PAUSE`` seconds; else on the next call). ``running`` is
re-read from the database every ``sync_interval`` seconds, so that an activation, an edit or a
deletion made through another process of the same host is picked up here too: a changed ``version``
retires the old worker. Every module is loaded in a worker before it is saved, which is how its type,
name, targets, sub-pipes and valves schema are known without running anything in the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from colonnade.errors import ApiError
from colonnade.plugins.pipelines.models import Pipeline, now
from colonnade.plugins.pipelines.records import (
    check_id,
    check_source,
    effective_valves,
    name_of,
    valves_dict,
)
from colonnade.plugins.pipelines.workers import PipelineWorker, WorkerFailure

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.plugins.pipelines.config import PipelinesConfig

log = logging.getLogger("colonnade.pipelines")

NOT_FOUND = "Pipeline not found"
#: Seconds between two automatic restarts of one pipeline's worker.
RESTART_PAUSE = 5.0


@dataclass
class Running:
    """An active pipeline of this process and its worker."""

    id: str
    version: int
    name: str
    type: str
    content: str
    valves: dict[str, Any]
    info: dict[str, Any]
    worker: PipelineWorker | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    restarted: float = float("-inf")

    @classmethod
    def of(cls, row: Pipeline) -> Running:
        valves, info = dict(row.valves or {}), dict(row.info or {})
        return cls(row.id, row.version, row.name, row.type, row.content, valves, info)


class PipelineService:
    """The hosted pipelines of one application.

    :param host: The application host.
    :param config: ``[plugins.pipelines]``.
    """

    def __init__(self, host: Host, config: PipelinesConfig) -> None:
        self.host = host
        self.config = config
        self.running: dict[str, Running] = {}
        self.temporaries: set[PipelineWorker] = set()
        #: Background starts of workers that crashed or were killed after a timeout.
        self.restarts: set[asyncio.Task[Any]] = set()
        self._synced = float("-inf")
        self._sync_lock = asyncio.Lock()
        self.closed = False

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker of every active pipeline (one that fails is logged and retried on use)."""
        await self.sync(force=True)
        results = await asyncio.gather(
            *(self.worker_of(running) for running in list(self.running.values())), return_exceptions=True
        )
        for running, result in zip(list(self.running.values()), results):
            if isinstance(result, BaseException):
                log.error("pipeline %r did not start: %s", running.id, getattr(result, "detail", result))

    async def close(self) -> None:
        """Run every active pipeline's ``on_shutdown`` and end every worker process."""
        self.closed = True
        for task in list(self.restarts):
            task.cancel()
        await asyncio.gather(*self.restarts, return_exceptions=True)
        running, self.running = list(self.running.values()), {}
        await asyncio.gather(*(self._retire(item) for item in running), return_exceptions=True)
        for worker in list(self.temporaries):
            await worker.kill()
        self.temporaries.clear()

    def worker_pids(self) -> list[int]:
        """The process ids of every worker this service started and has not ended (tests use it)."""
        workers = [item.worker for item in self.running.values()] + list(self.temporaries)
        return [worker.pid for worker in workers if worker is not None and worker.alive and worker.pid]

    async def sync(self, *, force: bool = False) -> None:
        """Bring ``running`` in line with the active rows (at most every ``sync_interval`` seconds)."""
        if self.closed or (not force and time.monotonic() - self._synced < self.config.sync_interval):
            return
        async with self._sync_lock:
            if not force and time.monotonic() - self._synced < self.config.sync_interval:
                return
            wanted = dict(await Pipeline.filter(is_active=True).values_list("id", "version"))
            changed = False
            for pipeline_id, running in list(self.running.items()):
                if wanted.get(pipeline_id) != running.version:
                    self.running.pop(pipeline_id, None)
                    await self._retire(running)
                    changed = True
            for pipeline_id in wanted:
                if pipeline_id not in self.running:
                    row = await Pipeline.get_or_none(id=pipeline_id, is_active=True)
                    if row is not None:
                        self.running[pipeline_id] = Running.of(row)
                        changed = True
            self._synced = time.monotonic()
            if changed:
                self.models_changed()

    def models_changed(self) -> None:
        """Drop the completions feature's cached model lists (the models offered changed)."""
        completions = self.host.state("completions")
        catalogue = getattr(completions, "catalogue", None)
        if catalogue is not None:
            catalogue.clear()

    async def worker_of(self, running: Running, *, registered: bool = True) -> PipelineWorker:
        """The running worker of an active pipeline, started (with ``on_startup``) if it is not.

        :param registered: ``running`` must still be this process's entry for the pipeline: one that
            was retired meanwhile (deactivated, changed, the host stopping) gets no new process.
        """
        async with running.lock:
            if self.closed or (registered and self.running.get(running.id) is not running):
                raise WorkerFailure(503, f"pipeline {running.id!r} was stopped", "died")
            if running.worker is not None and running.worker.alive:
                return running.worker
            if running.worker is not None:
                await running.worker.kill()
            worker = PipelineWorker(running.id, running.content, running.valves, self.config.timeout_seconds)
            await worker.start(startup=True, timeout=self.config.start_timeout_seconds)
            running.worker = worker
            worker.on_exit = lambda ended: self._restart_later(running, ended)
            return worker

    def _restart_later(self, running: Running, ended: PipelineWorker) -> None:
        """A worker crashed or was killed: start a new one now rather than on the next call, unless
        the last such restart was less than ``RESTART_PAUSE`` seconds ago (a worker that keeps dying
        is then started again only when a call needs it)."""
        if self.closed or self.running.get(running.id) is not running or running.worker is not ended:
            return
        now_ = time.monotonic()
        if now_ - running.restarted < RESTART_PAUSE:
            return
        running.restarted = now_

        async def restart() -> None:
            try:
                await self.worker_of(running)
            except WorkerFailure as failure:
                log.warning("pipeline %r did not restart: %s", running.id, failure.detail)

        task = asyncio.get_running_loop().create_task(restart(), name=f"restart pipeline {running.id}")
        self.restarts.add(task)
        task.add_done_callback(self.restarts.discard)

    async def _retire(self, running: Running) -> None:
        async with running.lock:
            if running.worker is not None:
                await running.worker.stop(shutdown=True, timeout=self.config.stop_timeout_seconds)
                running.worker = None

    @contextlib.asynccontextmanager
    async def borrowed(self, row: Pipeline) -> AsyncIterator[PipelineWorker]:
        """A worker for ``row``: its running one when active, else a temporary one for this use."""
        running = self.running.get(row.id)
        if running is not None and running.version == row.version:
            yield await self.worker_of(running)
            return
        worker = PipelineWorker(row.id, row.content, dict(row.valves or {}), self.config.timeout_seconds)
        self.temporaries.add(worker)
        try:
            await worker.start(startup=True, timeout=self.config.start_timeout_seconds)
            yield worker
        finally:
            self.temporaries.discard(worker)
            await worker.stop(shutdown=True, timeout=self.config.stop_timeout_seconds)

    async def probe(self, pipeline_id: str, source: str, valves: dict[str, Any]) -> dict[str, Any]:
        """Load ``source`` in a temporary worker (no ``on_startup``) and return what it declares."""
        check_source(source, self.config.max_source_bytes)
        worker = PipelineWorker(pipeline_id, source, valves, self.config.timeout_seconds)
        self.temporaries.add(worker)
        try:
            return await worker.start(startup=False, timeout=self.config.start_timeout_seconds)
        except WorkerFailure as failure:
            raise ApiError(400, failure.detail) from None
        finally:
            self.temporaries.discard(worker)
            await worker.stop(shutdown=False, timeout=self.config.stop_timeout_seconds)

    # -- what the active pipelines offer ----------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """The pipe and manifold models of the active pipelines, as model-list entries."""
        listed = []
        for running in self.running.values():
            base = {"object": "model", "created": 0, "owned_by": "openai", "connection_type": "local"}
            valves = bool(running.info.get("valves_spec"))
            if running.type == "pipe":
                listed.append(
                    {**base, "id": running.id, "name": running.name,
                     "pipeline": {"type": "pipe", "valves": valves, "hosted": True}}
                )
            elif running.type == "manifold":
                for sub in running.info.get("pipes") or ():
                    listed.append(
                        {**base, "id": f"{running.id}.{sub['id']}", "name": f"{running.name}{sub['name']}",
                         "pipeline": {"type": "manifold", "valves": valves, "hosted": True}}
                    )
        return listed

    def resolve(self, model_id: str) -> tuple[Running, str] | None:
        """The active pipeline answering ``model_id`` and the sub-id its ``pipe`` is called with."""
        running = self.running.get(model_id)
        if running is not None and running.type == "pipe":
            return running, model_id
        head, dot, sub = model_id.partition(".")
        running = self.running.get(head) if dot else None
        if running is not None and running.type == "manifold":
            if any(entry["id"] == sub for entry in running.info.get("pipes") or ()):
                return running, sub
        return None

    def filters_for(self, model_id: str) -> list[Running]:
        """The active filters targeting ``model_id`` (or ``*``), by ascending priority."""
        found = [
            running
            for running in self.running.values()
            if running.type == "filter"
            and ({"*", model_id} & set(running.info.get("pipelines") or ()))
        ]
        return sorted(found, key=lambda running: (running.info.get("priority") or 0, running.id))

    # -- stored pipelines -------------------------------------------------------------------------

    async def get(self, pipeline_id: str) -> Pipeline:
        row = await Pipeline.get_or_none(id=pipeline_id)
        if row is None:
            raise ApiError(404, NOT_FOUND)
        return row

    async def create(
        self,
        actor: Any,
        *,
        pipeline_id: str | None,
        source: Any,
        name: Any = None,
        valves: Any = None,
        active: bool = False,
    ) -> Pipeline:
        if pipeline_id is not None:
            check_id(pipeline_id)
        source = check_source(source, self.config.max_source_bytes)
        valves = valves_dict(valves)
        info = await self.probe(pipeline_id or "pipeline", source, valves)
        pipeline_id = check_id(pipeline_id or info.get("declared_id"))
        if await Pipeline.exists(id=pipeline_id):
            raise ApiError(400, f"A pipeline with id {pipeline_id!r} already exists")
        row = Pipeline(
            id=pipeline_id,
            user_id=getattr(actor, "id", None),
            name=name_of(name, info, pipeline_id),
            type=info["type"],
            content=source,
            info=info,
            valves=valves,
        )
        await row.save(force_create=True)
        if active:
            row = await self.activate(row.id)
        return row

    async def update(self, pipeline_id: str, changes: dict[str, Any]) -> Pipeline:
        row = await self.get(pipeline_id)
        unknown = set(changes) - {"name", "content", "valves", "is_active"}
        if unknown:
            raise ApiError(400, f"unknown fields: {', '.join(sorted(unknown))}")
        source = row.content if changes.get("content") is None else changes["content"]
        valves = row.valves if changes.get("valves") is None else valves_dict(changes["valves"])
        if "content" in changes or "valves" in changes:
            info = await self.probe(row.id, source, valves)
            row.content, row.info, row.type, row.valves = source, info, info["type"], valves
            if changes.get("name") is None and row.name == (row.info.get("name") or row.id):
                row.name = name_of(None, info, row.id)
        if changes.get("name") is not None:
            row.name = name_of(changes["name"], row.info, row.id)
        row.version += 1
        row.updated_at = now()
        await row.save()
        wanted = changes.get("is_active")
        if wanted is False:
            return await self.deactivate(row.id)
        if wanted is True and not row.is_active:
            return await self.activate(row.id)
        if row.is_active:
            await self._restart(row)
        return row

    async def _restart(self, row: Pipeline) -> None:
        old = self.running.pop(row.id, None)
        if old is not None:
            await self._retire(old)
        if row.is_active:
            running = self.running[row.id] = Running.of(row)
            try:
                await self.worker_of(running)
            except WorkerFailure as failure:
                log.error("pipeline %r did not restart: %s", row.id, failure.detail)
        self.models_changed()

    async def delete(self, pipeline_id: str) -> None:
        row = await self.get(pipeline_id)
        running = self.running.pop(row.id, None)
        if running is not None:
            await self._retire(running)
        await row.delete()
        self.models_changed()

    async def activate(self, pipeline_id: str) -> Pipeline:
        """Start the pipeline's worker (``on_startup``); a failure is a 400 and it stays inactive."""
        row = await self.get(pipeline_id)
        if row.is_active and row.id in self.running:
            return row
        old = self.running.pop(row.id, None)
        if old is not None:
            await self._retire(old)
        row.version += 1
        running = Running.of(row)
        try:
            await self.worker_of(running, registered=False)
        except WorkerFailure as failure:
            raise ApiError(400, failure.detail) from None
        row.is_active = True
        row.updated_at = now()
        try:
            # Saved and registered together: a sync in between would see a version it does not run.
            async with self._sync_lock:
                await row.save()
                self.running[row.id] = running
        except BaseException:
            await self._retire(running)
            raise
        self.models_changed()
        return row

    async def deactivate(self, pipeline_id: str) -> Pipeline:
        """Run ``on_shutdown`` and end the worker."""
        row = await self.get(pipeline_id)
        running = self.running.pop(row.id, None)
        if running is not None:
            await self._retire(running)
        if row.is_active:
            row.is_active = False
            row.version += 1
            row.updated_at = now()
            await row.save()
        self.models_changed()
        return row

    async def duplicate(self, pipeline_id: str, new_id: Any = None, actor: Any = None) -> Pipeline:
        row = await self.get(pipeline_id)
        if new_id is None:
            base = f"{row.id}_copy"[:120]
            new_id, number = base, 1
            while await Pipeline.exists(id=new_id):
                number += 1
                new_id = f"{base}_{number}"
        check_id(new_id)
        if await Pipeline.exists(id=new_id):
            raise ApiError(400, f"A pipeline with id {new_id!r} already exists")
        copy = Pipeline(
            id=new_id,
            user_id=getattr(actor, "id", None) or row.user_id,
            name=f"{row.name} (copy)"[:255],
            type=row.type,
            content=row.content,
            info=dict(row.info or {}),
            valves=dict(row.valves or {}),
            is_active=False,
        )
        await copy.save(force_create=True)
        return copy

    async def set_valves(self, pipeline_id: str, values: Any) -> dict[str, Any]:
        """Validate ``values`` against the module's ``Valves`` (null values dropped) and store them.

        An active pipeline gets them at once, and its ``on_valves_updated`` runs in its worker.
        """
        row = await self.get(pipeline_id)
        if not isinstance(values, dict):
            raise ApiError(400, "The valves must be a JSON object")
        values = {key: value for key, value in values.items() if value is not None}
        stored = {**(row.valves or {}), **values}
        running = self.running.get(row.id)
        if running is not None:
            worker = await self._worker_or_error(running)
            try:
                await worker.call("valves", {"values": values})
                info = await worker.call("describe", {})
            except WorkerFailure as failure:
                raise ApiError(failure.status, failure.detail) from None
        else:
            info = await self.probe(row.id, row.content, stored)
        row.valves = stored
        row.info = info
        row.version += 1
        row.updated_at = now()
        await row.save()
        if running is not None:
            running.valves, running.info, running.version = stored, info, row.version
        return effective_valves(row)

    async def _worker_or_error(self, running: Running) -> PipelineWorker:
        try:
            return await self.worker_of(running)
        except WorkerFailure as failure:
            raise ApiError(failure.status, failure.detail) from None

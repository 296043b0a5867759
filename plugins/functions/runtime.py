"""The live functions of one worker, kept in step with the database, and their plugin objects.

Each active function is loaded once (its module executed off the loop, with the timeout) and kept as
a :class:`Live` together with its stored valves. Filters are registered into the application's plugin
manager as plugin objects carrying ``completion_inlet`` / ``completion_outlet`` hookimpls (plus a
``trylast`` ``completion_inlet`` for ``request`` and a ``completion_stream_wrapper`` for ``stream``,
when the filter has them); ``Event`` functions as ``on_event`` hookimpls (``observers.py``). Pipes are
served by the single ``functions`` LLM provider, actions by the plugin's routes.

**Every worker, at once.** Each row has a ``version`` that goes up on every change. Before a request
that can reach a function (completions, the model list, actions) the worker reads the ``(id, version)``
pairs of the active rows, one small query, and loads, reloads or drops what differs; after a change it
also empties the completions model-list cache. So a function deactivated or deleted on one worker is
gone from the next request on every other, with or without Redis.

**Order.** pluggy calls the last registered plugin first. Whenever the set changes, every function
object is unregistered and registered again: inlet/outlet objects from the highest ``(priority, id)``
down (so the lowest runs first, as in Open WebUI), stream objects the other way round (so the lowest
priority is the innermost wrapper and sees each chunk first).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from colonnade.plugins.functions import loader, running
from colonnade.rawsql import Statement, fetch_all

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.plugins.functions.models import Function

log = logging.getLogger("colonnade.functions")

#: Paths whose requests may reach a function; the worker checks its functions are current first.
SYNC_PATHS = (
    "/api/chat/completions",
    "/api/v1/chat/completions",
    "/api/models",
    "/api/v1/models",
    "/api/chat/actions/",
    "/api/v1/chat/actions/",
    "/api/chat/completed",
    "/api/v1/chat/completed",
)
#: The active functions and their versions: read before every request above, so written by hand.
#: Run before every completion; inline on SQLite (a handful of rows: the active functions).
ACTIVE_VERSIONS = Statement("SELECT id, version FROM functions_function WHERE is_active = ?")


def digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


@dataclass
class Live:
    """A loaded, active function and what its row says."""

    id: str
    name: str
    version: int
    source_digest: str
    loaded: loader.Loaded
    valves: dict[str, Any]
    is_global: bool
    meta: dict[str, Any]
    created_at: int

    @property
    def kind(self) -> str:
        return self.loaded.kind

    @property
    def priority(self) -> float:
        value = self.valves.get("priority")
        if value is None:
            cls = self.loaded.valves_class
            field = getattr(cls, "model_fields", {}).get("priority") if cls is not None else None
            value = getattr(field, "default", None) if field is not None else None
        if value is None:
            value = getattr(getattr(self.loaded.instance, "valves", None), "priority", 0)
        try:
            return float(value)
        except (TypeError, ValueError):
            return 0.0

    @property
    def toggle(self) -> bool:
        return bool(getattr(self.loaded.instance, "toggle", False))


async def load(host: Host, function_id: str, source: str) -> loader.Loaded:
    """Check and execute ``source`` off the loop (compiling a large module takes a while too);
    raises :class:`loader.LoadError`."""
    timeout = host.plugin_config("functions").timeout_seconds
    try:
        return await running.run_blocking(lambda: loader.execute(function_id, source), timeout, function_id)
    except running.FunctionFailed as failed:
        if isinstance(failed.error, loader.LoadError):
            raise failed.error from None
        detail = f"The function failed to load: {loader.describe_error(function_id, failed.error)}"
        raise loader.LoadError(detail, loader.error_line(function_id, failed.error)) from None
    except running.FunctionTimeout:
        raise loader.LoadError(f"The function took longer than {timeout:g} s to load") from None


class Registry:
    """The live functions of this worker (``host.state("functions").registry``)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.live: dict[str, Live] = {}
        #: ``{id: version}`` of active rows that failed to load (not retried until the row changes).
        self.failed: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._registered: list[Any] = []
        #: Running calls of ``Event`` functions (see ``observers.py``).
        self.observing: set[asyncio.Task[Any]] = set()

    def of_kind(self, kind: str) -> list[Live]:
        found = [live for live in self.live.values() if live.kind == kind]
        return sorted(found, key=lambda live: (live.priority, live.id))

    async def sync(self) -> None:
        """Bring the live set in step with the active rows (one query when nothing changed)."""
        from colonnade.plugins.functions.models import Function

        stamps = await _active_versions()
        if self._current(stamps):
            return
        gone = [function_id for function_id in self.live if function_id not in stamps]
        if gone:
            # Deactivated or deleted: dropped before anything else, without waiting for loads.
            for function_id in gone:
                del self.live[function_id]
            self._register()
            self._clear_model_lists()
        async with self._lock:
            stamps = await _active_versions()
            if self._current(stamps):
                return
            known = {fid: live.version for fid, live in self.live.items()}
            changed = [
                fid
                for fid, version in stamps.items()
                if self.failed.get(fid) != version and known.get(fid) != version
            ]
            rows = {row.id: row for row in await Function.filter(id__in=changed)} if changed else {}
            for function_id in [fid for fid in self.live if fid not in stamps]:
                del self.live[function_id]
            self.failed = {fid: version for fid, version in self.failed.items() if stamps.get(fid) == version}
            # Each load runs in a thread of its own: many functions (at start-up) load side by side.
            await asyncio.gather(*(self._take(rows[fid]) for fid in changed if fid in rows))
            self._register()
            self._clear_model_lists()

    def _current(self, stamps: dict[str, int]) -> bool:
        known = {fid: live.version for fid, live in self.live.items()}
        known.update(self.failed)
        return known == stamps

    async def _take(self, row: Function) -> None:
        codec = self.host.state("functions").codec
        before = self.live.get(row.id)
        try:
            if before is not None and before.source_digest == digest(row.content):
                loaded = before.loaded
            else:
                loaded = await load(self.host, row.id, row.content)
        except loader.LoadError as error:
            log.error("function %r (version %s) could not be loaded: %s", row.id, row.version, error.detail)
            self.live.pop(row.id, None)
            self.failed[row.id] = row.version
            return
        self.live[row.id] = Live(
            row.id,
            row.name,
            row.version,
            digest(row.content),
            loaded,
            codec.decode(row.valves),
            row.is_global,
            row.meta or {},
            row.created_at,
        )

    def _register(self) -> None:
        from colonnade.plugins.functions.filters import FilterHooks, FilterRequest, FilterStream
        from colonnade.plugins.functions.observers import EventHooks

        pm = self.host.pm
        for plugin in self._registered:
            if pm.is_registered(plugin):
                pm.unregister(plugin)
        self._registered = []
        filters = self.of_kind("filter")
        for live in reversed(filters):
            self._registered.append(FilterHooks(live))
            if callable(getattr(live.loaded.instance, "request", None)):
                self._registered.append(FilterRequest(live))
        for live in filters:
            if callable(getattr(live.loaded.instance, "stream", None)):
                self._registered.append(FilterStream(live))
        for live in self.of_kind("event"):
            self._registered.append(EventHooks(live, self.observing))
        for plugin in self._registered:
            pm.register(plugin, name=plugin.__name__)

    def _clear_model_lists(self) -> None:
        completions = self.host.state("completions")
        catalogue = getattr(completions, "catalogue", None)
        if catalogue is not None:
            catalogue.clear()

    def unregister_all(self) -> None:
        for task in list(self.observing):
            task.cancel()
        for plugin in self._registered:
            if self.host.pm.is_registered(plugin):
                self.host.pm.unregister(plugin)
        self._registered = []
        self.live.clear()


async def _active_versions() -> dict[str, int]:
    from colonnade.plugins.functions.models import Function

    return {
        row["id"]: row["version"] for row in await fetch_all(Function, ACTIVE_VERSIONS, [True], inline=True)
    }

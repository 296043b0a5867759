"""Event functions as plugins: an active ``Event`` function observes the host's events.

Each active module defining ``Event`` is registered as a plugin object (``function:<id>``) carrying an
``on_event`` hookimpl. Its ``event(event, ...)`` method is called for every event the host emits
except the functions plugin's own (``functions.*``: a failing observer reports a failure, which must
not call it again), with ``event`` as ``{"name", "created", "user", "data"}``. The call runs in the
background, off the loop and under the timeout, so a slow observer never delays whoever emitted.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from colonnade.hookspecs import hookimpl
from colonnade.plugins.functions import invoke, running
from colonnade.plugins.functions.invoke import Invocation

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.plugins.functions.runtime import Live


def payload_of(event: Any) -> dict[str, Any]:
    data = {}
    for item in dataclasses.fields(event) if dataclasses.is_dataclass(event) else ():
        if item.name not in ("actor", "created"):
            data[item.name] = getattr(event, item.name)
    return {
        "name": event.name,
        "created": event.created,
        "user": invoke.user_dict(event.actor) or None,
        "data": data,
    }


class EventHooks:
    """The ``on_event`` hookimpl of one ``Event`` function.

    :param live: The function.
    :param pending: The registry's set of running calls (kept so they are not collected, and cancelled
        at shutdown).
    """

    def __init__(self, live: Live, pending: set[asyncio.Task[Any]]) -> None:
        self.live = live
        self.pending = pending
        self.__name__ = f"function:{live.id}"

    @hookimpl
    def on_event(self, host: Host, event: Any) -> None:
        if event.name.startswith("functions.") or not callable(
            getattr(self.live.loaded.instance, "event", None)
        ):
            return
        task = asyncio.ensure_future(self._observe(host, event))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _observe(self, host: Host, event: Any) -> None:
        invocation = Invocation(event.actor, {"user_id": getattr(event.actor, "id", None)}, {})
        extra = {"__event__": event.name, "__app__": None}
        try:
            await invoke.call_method(
                host, self.live, "event", "event", payload_of(event), invocation, extra=extra
            )
        except (running.FunctionFailed, running.FunctionTimeout):
            pass  # reported (logged and emitted as functions.failed) by call_method

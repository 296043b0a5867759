"""httpcore's per-request lock and event, without the event-loop round trips anyio adds to them.

httpcore guards every request on a pooled connection with its own primitives, which on asyncio are
anyio's: the connection's request lock, the HTTP/1.1 state lock (twice: when the request starts and
when its response is closed) and the pool's "connection acquired" event. anyio makes each of them a
scheduling point even when nothing waits:

- an uncontended ``anyio.Lock.acquire()`` enters a shielded cancel scope and yields to the event loop
  (``sleep(0)``) before returning, unless the lock was made with ``fast_acquire=True``;
- ``anyio.Event.wait()`` on an event already set yields too, inside a ``fail_after`` deadline scope
  with its own timer.

That is four trips round the event loop and four cancel scopes for every upstream request. At 16
concurrent requests each trip puts the request behind every other ready task: without them an upstream
client's CPU per request fell by about a quarter (``bench/ab.py httpcore-locks``, ``docs/internals.md``).

:func:`install` swaps, in httpcore's HTTP/1.1 connection modules, :class:`FastAcquireLock` for the
lock and :class:`SetEventWait` for the pool's event. Both are httpcore's own classes with one change:

- the lock is anyio's, made with ``fast_acquire=True`` (anyio's option for this, since 4.5; httpcore
  once made the same change itself, encode/httpcore#953), so acquiring a free lock still checks for
  cancellation but does not yield; a lock someone holds is waited for as before;
- waiting on an event that is already set returns at once; one not yet set (a request waiting for a
  free connection of a full pool) is waited for exactly as before, with the pool timeout.

What no longer happens is a yield in the middle of a request that had nothing to wait for. Locks and
events created under trio are left as they are. HTTP/2 connections and proxies keep httpcore's classes.
"""

from __future__ import annotations

import inspect

import anyio
from httpcore import _synchronization
from httpcore._async import connection, connection_pool, http11


class FastAcquireLock(_synchronization.AsyncLock):
    """httpcore's ``AsyncLock`` whose asyncio lock is anyio's with ``fast_acquire=True``."""

    def setup(self) -> None:
        super().setup()
        if self._backend == "asyncio":
            self._anyio_lock = anyio.Lock(fast_acquire=True)


class SetEventWait(_synchronization.AsyncEvent):
    """httpcore's ``AsyncEvent`` whose ``wait()`` returns at once when the event is already set."""

    async def wait(self, timeout: float | None = None) -> None:
        if self._backend == "asyncio" and self._anyio_event.is_set():
            return
        await super().wait(timeout)


#: (module, name in it, httpcore's class, ours).
_SWAPS = (
    (connection, "AsyncLock", _synchronization.AsyncLock, FastAcquireLock),
    (http11, "AsyncLock", _synchronization.AsyncLock, FastAcquireLock),
    (connection_pool, "AsyncEvent", _synchronization.AsyncEvent, SetEventWait),
)


def install() -> bool:
    """Make httpcore's HTTP/1.1 pool use :class:`FastAcquireLock` and :class:`SetEventWait`, for
    connections made from now on; ``False`` (and nothing changed) when this httpcore or anyio is not
    the shape they were written for."""
    if "fast_acquire" not in inspect.signature(anyio.Lock).parameters:
        return False
    if any(getattr(module, name, None) not in (theirs, ours) for module, name, theirs, ours in _SWAPS):
        return False
    for module, name, _, ours in _SWAPS:
        setattr(module, name, ours)
    return True


def installed() -> bool:
    """Whether :func:`install` has taken effect."""
    return all(getattr(module, name, None) is ours for module, name, _, ours in _SWAPS)

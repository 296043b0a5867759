"""Helpers for calling hooks whose implementations may be sync or async (Datasette's idiom)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

from colonnade.registry import NamedRegistry

T = TypeVar("T")


async def await_me_maybe(value: Any) -> Any:
    """Return ``value``; call it if it is callable, await it if it is awaitable."""
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


async def call_all(results: Iterable[Any]) -> list[Any]:
    """Await every hook result in call order and return the non-``None`` values."""
    resolved = []
    for result in results:
        value = await await_me_maybe(result)
        if value is not None:
            resolved.append(value)
    return resolved


async def first_non_none(results: Iterable[Any]) -> Any:
    """Await every result (none is left un-awaited) and return the first that is not ``None``."""
    found = None
    for result in results:
        value = await await_me_maybe(result)
        if found is None and value is not None:
            found = value
    return found


def collect_named(results: Iterable[Iterable[T] | None], *, kind: str) -> NamedRegistry[T]:
    """Flatten the lists returned by a ``register_*`` hook into a registry keyed by ``.name``."""
    registry: NamedRegistry[T] = NamedRegistry(kind)
    for items in results:
        for item in items or ():
            registry.add(item.name, item)
    return registry


StreamWrapper = Callable[[AsyncIterator[Any]], AsyncIterator[Any]]


def compose_stream_wrappers(wrappers: Iterable[StreamWrapper | None]) -> StreamWrapper:
    """Compose stream wrappers so that the first one given is the outermost."""
    chain = [wrapper for wrapper in wrappers if wrapper is not None]

    def composed(stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
        for wrapper in reversed(chain):
            stream = wrapper(stream)
        return stream

    return composed

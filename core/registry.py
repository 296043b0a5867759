"""``NamedRegistry``: name -> object, with duplicate detection and "did you mean" on misses."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

from colonnade.errors import StartupError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(name, choices, n=1)
    return f" — did you mean '{close[0]}'?" if close else ""


class NamedRegistry(Generic[T]):
    """Objects registered by plugins under unique names.

    :param kind: What the objects are ("image engine", "action"), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> None:
        if name in self._items:
            raise StartupError(f"duplicate {self.kind} name: {name!r}")
        self._items[name] = item

    def get(self, name: str | None) -> T | None:
        """Look ``name`` up; ``None`` gives ``None``, an unknown name is a ``StartupError``."""
        if name is None:
            return None
        if name not in self._items:
            raise StartupError(f"unknown {self.kind} {name!r}{did_you_mean(name, list(self._items))}")
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __getitem__(self, name: str) -> T:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self):
        return self._items.items()

    def values(self):
        return self._items.values()

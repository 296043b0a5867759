"""argon2id password hashing, always run in a worker thread so the event loop never blocks.

The threads are a pool of their own, one fewer than the machine has cores (at least one), not
asyncio's default pool: that one has ``cores + 4`` threads, and a burst of sign-ins kept six
memory-bound hashes runnable beside the event loop on a two-core machine, so ``/health`` fell from about
1,000 to under 80 requests/s while they ran (docs/benchmarks.md). Sign-ins beyond the pool's size queue
for a thread instead of competing with the loop for the cores. The pool is per process (the cap is a
property of the machine, not of one application) and made on the first hash, so start-up pays nothing.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def hashing_threads() -> int:
    """How many hashes run at once: the cores but one, so the event loop always keeps a core."""
    return max(1, (os.cpu_count() or 2) - 1)


def _hashing_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(
                    max_workers=hashing_threads(), thread_name_prefix="colonnade-argon2"
                )
    return _pool


def _forget_pool() -> None:
    """A forked child inherits the pool object but none of its threads: it makes its own."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


async def _off_loop(function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hashing_pool(), function, *args)


class Passwords:
    """Hash and verify passwords with the configured argon2id cost.

    :param memory_kib: Memory cost in KiB (OWASP: 19456).
    :param time_cost: Passes (OWASP: 2).
    :param parallelism: Lanes (OWASP: 1).
    """

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._cost = {"memory_cost": memory_kib, "time_cost": time_cost, "parallelism": parallelism}
        self._made: Any = None
        # Verified against when the account does not exist, so the answer takes as long either way.
        # Made on first need, in a thread: hashing at construction would block start-up.
        self._dummy_hash: str | None = None

    @property
    def _hasher(self) -> Any:
        """argon2-cffi's hasher, made (and the library imported) on first use rather than at start."""
        if self._made is None:
            from argon2 import PasswordHasher

            self._made = PasswordHasher(**self._cost)
        return self._made

    async def hash(self, password: str) -> str:
        return await _off_loop(self._hasher.hash, password)

    async def verify(self, hashed: str | None, password: str) -> bool:
        """Whether ``password`` matches ``hashed``; ``None`` (no such account) costs the same and fails."""
        if hashed is None and self._dummy_hash is None:
            self._dummy_hash = await self.hash("colonnade-timing-equaliser")
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        target = hashed or self._dummy_hash
        try:
            ok = await _off_loop(self._hasher.verify, target, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and hashed is not None

    def needs_rehash(self, hashed: str) -> bool:
        return self._hasher.check_needs_rehash(hashed)

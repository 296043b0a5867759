"""argon2id password hashing, always run in a worker thread so the event loop never blocks."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    """Hash and verify passwords with the configured argon2id cost.

    :param memory_kib: Memory cost in KiB (OWASP: 19456).
    :param time_cost: Passes (OWASP: 2).
    :param parallelism: Lanes (OWASP: 1).
    """

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        # Verified against when the account does not exist, so the answer takes as long either way.
        # Made on first need, in a thread: hashing at construction would block start-up.
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, hashed: str | None, password: str) -> bool:
        """Whether ``password`` matches ``hashed``; ``None`` (no such account) costs the same and fails."""
        if hashed is None and self._dummy_hash is None:
            self._dummy_hash = await self.hash("colonnade-timing-equaliser")
        target = hashed or self._dummy_hash
        try:
            ok = await asyncio.to_thread(self._hasher.verify, target, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and hashed is not None

    def needs_rehash(self, hashed: str) -> bool:
        return self._hasher.check_needs_rehash(hashed)

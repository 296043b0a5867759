"""State that every worker must share: revoked tokens and sign-in attempt counters.

Revocations live in the database (table ``auth_revoked_token``) or, when ``[database] redis_url`` is
set, in Redis with an expiry. Attempt counters live in process memory for a single worker, or in Redis.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from colonnade.auth.models import RevokedToken


class Revocations:
    """Remember revoked token ids until the tokens would have expired anyway."""

    def __init__(self, redis: Any = None) -> None:
        self._redis = redis

    @property
    def shared(self) -> bool:
        """Whether revocations live in Redis rather than in the ``auth_revoked_token`` table (which
        the actor lookup then reads in the same query as the user)."""
        return self._redis is not None

    async def revoke(self, jti: str, expires_at: int) -> None:
        ttl = max(1, expires_at - int(time.time()))
        if self._redis is not None:
            await self._redis.set(f"colonnade:auth:revoked:{jti}", "1", ex=ttl)
            return
        await RevokedToken.filter(expires_at__lt=int(time.time())).delete()
        await RevokedToken.get_or_create(jti=jti, defaults={"expires_at": expires_at})

    async def is_revoked(self, jti: str) -> bool:
        if self._redis is not None:
            return bool(await self._redis.exists(f"colonnade:auth:revoked:{jti}"))
        return await RevokedToken.filter(jti=jti).exists()


class AttemptCounter:
    """Count failed attempts per key within a sliding window.

    :param limit: Failures allowed within ``window`` seconds before ``blocked`` says so.
    :param window: The window, in seconds.
    :param redis: A Redis client to share counts across workers, or ``None`` for process memory.
    """

    def __init__(self, limit: int, window: int, redis: Any = None, namespace: str = "signin") -> None:
        self.limit = limit
        self.window = window
        self._redis = redis
        self._namespace = namespace
        self._memory: dict[str, deque[float]] = {}
        # Keys are dropped lazily when asked about again; a sweep also drops keys nobody asks about
        # (an attacker spraying made-up emails), each time the table doubles past this size.
        self._sweep_at = 10_000

    async def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may now."""
        now = time.time()
        if self._redis is not None:
            redis_key = f"colonnade:ratelimit:{self._namespace}:{key}"
            await self._redis.zremrangebyscore(redis_key, 0, now - self.window)
            if await self._redis.zcard(redis_key) < self.limit:
                return 0
            oldest = await self._redis.zrange(redis_key, 0, 0, withscores=True)
            return max(1, int(oldest[0][1] + self.window - now)) if oldest else 1
        attempts = self._memory.get(key)
        if not attempts:
            return 0
        while attempts and attempts[0] <= now - self.window:
            attempts.popleft()
        if len(attempts) < self.limit:
            if not attempts:
                del self._memory[key]
            return 0
        return max(1, int(attempts[0] + self.window - now))

    async def record_failure(self, key: str) -> None:
        now = time.time()
        if self._redis is not None:
            redis_key = f"colonnade:ratelimit:{self._namespace}:{key}"
            await self._redis.zadd(redis_key, {f"{now}:{id(self)}:{time.perf_counter_ns()}": now})
            await self._redis.expire(redis_key, self.window)
            return
        self._memory.setdefault(key, deque()).append(now)
        if len(self._memory) >= self._sweep_at:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Forget every key whose attempts have all left the window."""
        horizon = now - self.window
        self._memory = {key: attempts for key, attempts in self._memory.items() if attempts[-1] > horizon}
        self._sweep_at = max(10_000, 2 * len(self._memory))

    async def reset(self, key: str) -> None:
        if self._redis is not None:
            await self._redis.delete(f"colonnade:ratelimit:{self._namespace}:{key}")
            return
        self._memory.pop(key, None)

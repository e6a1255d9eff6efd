"""Fixed-window request counters for rate limits: one atomic step per request, no lock.

In Redis (shared by every worker and instance) an INCR and its EXPIRE run as one script;
in process memory the event loop makes each step atomic. While Redis is skipped by its
circuit breaker or fails, counting goes on in process memory: limits stay on, per process.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from adapters.circuit_breaker import CircuitBreaker
from adapters.redis_probe import TIMEOUT_SECONDS

SWEEP_EVERY = 1024
_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class Window:
    """Requests counted in the current window, and seconds until it resets."""

    count: int
    reset_in: int


class LocalRateCounter:
    """Counters in this process's memory."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._windows: dict[str, tuple[int, float]] = {}
        self._hits = 0

    async def hit(self, key: str, window: int) -> Window:
        return self.hit_now(key, window)

    async def count(self, key: str) -> int:
        count, ends = self._windows.get(key, (0, 0.0))
        return count if ends > self._now() else 0

    def hit_now(self, key: str, window: int) -> Window:
        now = self._now()
        count, ends = self._windows.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window
        self._windows[key] = (count + 1, ends)
        self._hits += 1
        if self._hits % SWEEP_EVERY == 0:
            for stale in [k for k, (_, e) in self._windows.items() if e <= now]:
                del self._windows[stale]
        return Window(count + 1, max(int(ends - now + 0.999), 1))


class RedisRateCounter:
    """Counters in Redis, with a per-process fallback while Redis does not answer."""

    def __init__(
        self, client: Redis, *, namespace: str, breaker: CircuitBreaker | None = None
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._breaker = breaker
        self._hit = client.register_script(_HIT)
        self.fallback = LocalRateCounter()

    @classmethod
    def from_url(
        cls, url: str, *, namespace: str, breaker: CircuitBreaker | None = None
    ) -> "RedisRateCounter":
        client = Redis.from_url(
            url,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),  # one timeout, not redis-py's default four
        )
        return cls(client, namespace=namespace, breaker=breaker)

    async def hit(self, key: str, window: int) -> Window:
        if self._usable():
            try:
                count, ttl = await self._hit(keys=[self._key(key)], args=[window])
                return Window(int(count), max(int(ttl), 1))
            except (RedisError, OSError) as error:
                self._failed(error)
        return self.fallback.hit_now(key, window)

    async def count(self, key: str) -> int:
        if self._usable():
            try:
                value = await self._client.get(self._key(key))
                return int(value or 0)
            except (RedisError, OSError) as error:
                self._failed(error)
        return await self.fallback.count(key)

    def _key(self, key: str) -> str:
        return f"{self._namespace}:{key}"

    def _usable(self) -> bool:
        return self._breaker is None or self._breaker.allow()

    def _failed(self, error: BaseException) -> None:
        if self._breaker is not None:
            self._breaker.failed(error)

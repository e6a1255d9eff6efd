"""Is Redis answering? One breaker per process for every Redis client, and readiness's check."""

from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.circuit_breaker import CircuitBreaker

TIMEOUT_SECONDS = 0.5


def no_retries() -> Retry:
    """A hung Redis must cost one timeout, not redis-py's default four."""
    return Retry(NoBackoff(), 0)


class RedisCircuitOpen(Exception):
    """Redis failed recently; it is skipped until the background probe sees it answer."""


class RedisProbe:
    """Checks the Redis server that holds rate limits and the idempotency fast path."""

    name = "redis"

    def __init__(
        self,
        url: str,
        timeout: float = TIMEOUT_SECONDS,
        *,
        on_change: Callable[[bool], None] | None = None,
        on_skip: Callable[[], None] | None = None,
    ) -> None:
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=no_retries()
        )
        self.breaker = CircuitBreaker(
            "redis", self._client.ping, on_change=on_change, on_skip=on_skip
        )

    def check(self) -> None:
        """Degraded at once while the breaker is open; else a PING, whose failure opens it."""
        if self.breaker.is_open:
            raise RedisCircuitOpen(self.breaker.last_error or "")
        try:
            self._client.ping()
        except (redis.RedisError, OSError) as error:
            self.breaker.failed(error)
            raise

    def close(self) -> None:
        self.breaker.stop()
        self._client.close()


def redis_probes(probe: RedisProbe | None) -> list[RedisProbe]:
    return [probe] if probe is not None else []

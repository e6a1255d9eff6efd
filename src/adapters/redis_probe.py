"""Is Redis answering? A PING with a short timeout, for readiness."""

import redis


class RedisProbe:
    """Checks the Redis server that holds rate limits and the idempotency fast path."""

    name = "redis"

    def __init__(self, url: str, timeout: float = 0.5) -> None:
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )

    def check(self) -> None:
        self._client.ping()

    def close(self) -> None:
        self._client.close()


def redis_probes(url: str | None) -> list[RedisProbe]:
    return [RedisProbe(url)] if url else []

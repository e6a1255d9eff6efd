"""The Redis idempotency store: one key per (scope, user, key), shared by every API process."""

import json
import secrets
from typing import Any

import redis

from adapters.circuit_breaker import CircuitBreaker
from adapters.redis_probe import TIMEOUT_SECONDS, no_retries
from application.ports import (
    Claim,
    Claimed,
    Completed,
    IdempotencyStoreUnavailable,
    InFlight,
    StoredResponse,
)

DEFAULT_PREFIX = "payments:idempotency:"

# Write the response only over our own lock, or over nothing when our lock has expired:
# never over another request's lock or an answer already stored.
_COMPLETE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _lock_value(claim: Claimed) -> str:
    return json.dumps({"fingerprint": claim.fingerprint, "token": claim.token}, sort_keys=True)


def _millis(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


class RedisIdempotencyStore:
    """IdempotencyStore on Redis: SET NX GET takes a lock and reads the holder in one step."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._breaker = breaker
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, breaker: CircuitBreaker | None = None
    ) -> "RedisIdempotencyStore":
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            retry=no_retries(),
        )
        return cls(client, prefix=prefix, breaker=breaker)

    def claim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        claim = Claimed(token=secrets.token_hex(16), fingerprint=fingerprint)
        existing = self._call(
            self._client.set,
            self._prefix + key,
            _lock_value(claim),
            nx=True,
            get=True,
            px=_millis(lock_ttl),
        )
        if existing is None:
            return claim
        stored = json.loads(existing)
        if "status" in stored:
            response = StoredResponse(
                status_code=int(stored["status"]), body=stored["body"].encode()
            )
            return Completed(fingerprint=stored["fingerprint"], response=response)
        return InFlight(fingerprint=stored["fingerprint"])

    def complete(self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float) -> None:
        answer = json.dumps(
            {
                "fingerprint": claim.fingerprint,
                "status": response.status_code,
                "body": response.body.decode(),
            }
        )
        self._call(
            self._complete,
            keys=[self._prefix + key],
            args=[_lock_value(claim), answer, _millis(ttl)],
        )

    def release(self, key: str, claim: Claimed) -> None:
        self._call(self._release, keys=[self._prefix + key], args=[_lock_value(claim)])

    def ping(self) -> None:
        self._call(self._client.ping)

    def close(self) -> None:
        self._client.close()

    def _call(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        if self._breaker is not None and not self._breaker.allow():
            raise IdempotencyStoreUnavailable("circuit open")
        try:
            return command(*args, **kwargs)
        except (redis.RedisError, OSError) as error:
            if self._breaker is not None:
                self._breaker.failed(error)
            raise IdempotencyStoreUnavailable(type(error).__name__) from None

"""The Redis idempotency store: one key per (scope, user, key), shared by every API process."""

import asyncio
import base64
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import redis
import redis.asyncio
from eventsourcing.utils import Environment
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from adapters.circuit_breaker import CircuitBreaker
from adapters.encryption import KeyRingCipher, key_ring_env
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
ASYNC_CONNECTIONS = 32  # per worker loop; a call waits up to TIMEOUT_SECONDS for one

# Write the response only over our own lock, or over nothing when our lock has expired:
# never over another request's lock or an answer already stored.
_COMPLETE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
# Replace an answer that no longer holds by a new lock, only if it is still that answer.
_SUPERSEDE = """
local current = redis.call('GET', KEYS[1])
if (not current) or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return false
end
return current
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _lock_value(claim: Claimed) -> str:
    return json.dumps({"fingerprint": claim.fingerprint, "token": claim.token}, sort_keys=True)


class BodyCipher(Protocol):
    """Encrypts cached answers at rest (they may hold a client secret): the events' key."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> bytes: ...


def body_cipher(
    encryption_key: str | None, decrypt_only_keys: tuple[str, ...] = ()
) -> BodyCipher | None:
    """The events' AES-GCM cipher and keys, when events are encrypted at rest."""
    if not encryption_key:
        return None
    return KeyRingCipher(Environment(env=key_ring_env(encryption_key, decrypt_only_keys)))


def _millis(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


def _take(lock_ttl: float) -> dict[str, Any]:
    """SET's options that take a free key, or read who holds it, in one step."""
    return {"nx": True, "get": True, "px": _millis(lock_ttl)}


AsyncClientFactory = Callable[[], "redis.asyncio.Redis"]


class _AsyncClient:
    """One event loop's client and its scripts."""

    def __init__(self, client: "redis.asyncio.Redis") -> None:
        self.client = client
        self.complete = client.register_script(_COMPLETE)
        self.release = client.register_script(_RELEASE)
        self.supersede = client.register_script(_SUPERSEDE)


class RedisIdempotencyStore:
    """IdempotencyStore on Redis: SET NX GET takes a lock and reads the holder in one step.

    Its calls can also be awaited (`aclaim`, ...): through an asyncio client of each event
    loop's own (`async_client` makes one), holding no thread while Redis answers; the same
    commands, scripts, breaker and errors as the blocking calls.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        breaker: CircuitBreaker | None = None,
        cipher: BodyCipher | None = None,
        async_client: AsyncClientFactory,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._breaker = breaker
        self._cipher = cipher
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)
        self._supersede = client.register_script(_SUPERSEDE)
        self._async_client = async_client
        self._async_clients: dict[asyncio.AbstractEventLoop, _AsyncClient] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        breaker: CircuitBreaker | None = None,
        cipher: BodyCipher | None = None,
    ) -> "RedisIdempotencyStore":
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            retry=no_retries(),
        )

        def async_client() -> "redis.asyncio.Redis":
            # A bounded pool that waits for a free connection: the default one refuses past
            # 100 calls at once (MaxConnectionsError), as hundreds of admitted charges make.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                url,
                max_connections=ASYNC_CONNECTIONS,
                timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
                socket_timeout=TIMEOUT_SECONDS,
            )
            return redis.asyncio.Redis(connection_pool=pool, retry=AsyncRetry(NoBackoff(), 0))

        return cls(client, prefix=prefix, breaker=breaker, cipher=cipher, async_client=async_client)

    def claim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        claim = Claimed(token=secrets.token_hex(16), fingerprint=fingerprint)
        existing = self._call(self._client.set, *self._lock(key, claim), **_take(lock_ttl))
        return claim if existing is None else self._claim_from(existing)

    def complete(self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float) -> None:
        self._call(self._complete, **self._completion(key, claim, response, ttl))

    def supersede(self, key: str, stale: Completed, claim: Claimed, *, lock_ttl: float) -> Claim:
        current = self._call(self._supersede, **self._succession(key, stale, claim, lock_ttl))
        return claim if current is None else self._claim_from(current)

    def release(self, key: str, claim: Claimed) -> None:
        self._call(self._release, **self._release_of(key, claim))

    def ping(self) -> None:
        self._call(self._client.ping)

    def close(self) -> None:
        self._client.close()

    async def aclaim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        claim = Claimed(token=secrets.token_hex(16), fingerprint=fingerprint)
        command = self._loop_client().client.set
        existing = await self._acall(command, *self._lock(key, claim), **_take(lock_ttl))
        return claim if existing is None else self._claim_from(existing)

    async def acomplete(
        self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float
    ) -> None:
        completion = self._completion(key, claim, response, ttl)
        await self._acall(self._loop_client().complete, **completion)
        return

    async def asupersede(
        self, key: str, stale: Completed, claim: Claimed, *, lock_ttl: float
    ) -> Claim:
        succession = self._succession(key, stale, claim, lock_ttl)
        current = await self._acall(self._loop_client().supersede, **succession)
        return claim if current is None else self._claim_from(current)

    async def arelease(self, key: str, claim: Claimed) -> None:
        await self._acall(self._loop_client().release, **self._release_of(key, claim))
        return

    async def aclose(self) -> None:
        """Close the running event loop's client (a worker's, as it stops)."""
        loop_client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if loop_client is not None:
            await loop_client.client.aclose()

    def _loop_client(self) -> _AsyncClient:
        loop = asyncio.get_running_loop()
        loop_client = self._async_clients.get(loop)
        if loop_client is None:
            for closed in [known for known in self._async_clients if known.is_closed()]:
                del self._async_clients[closed]  # a loop that ended (tests start several)
            loop_client = self._async_clients[loop] = _AsyncClient(self._async_client())
        return loop_client

    def _answer_value(self, fingerprint: str, response: StoredResponse) -> str:
        if self._cipher is None:
            body = response.body.decode()
            answer = {"fingerprint": fingerprint, "status": response.status_code, "body": body}
        else:
            sealed = base64.b64encode(self._cipher.encrypt(response.body)).decode()
            answer = {"fingerprint": fingerprint, "status": response.status_code, "sealed": sealed}
        return json.dumps(answer)

    def _claim_from(self, existing: bytes | str) -> Completed | InFlight:
        stored = json.loads(existing)
        if "status" not in stored:
            return InFlight(fingerprint=stored["fingerprint"])
        if "sealed" in stored:
            if self._cipher is None:
                raise IdempotencyStoreUnavailable("the cached answer is encrypted")
            try:
                body = self._cipher.decrypt(base64.b64decode(stored["sealed"]))
            except ValueError:
                raise IdempotencyStoreUnavailable("the cached answer does not decrypt") from None
        else:
            body = stored["body"].encode()
        response = StoredResponse(status_code=int(stored["status"]), body=body)
        raw = existing.decode() if isinstance(existing, bytes) else existing
        return Completed(fingerprint=stored["fingerprint"], response=response, stored_as=raw)

    # The same commands whether awaited or not: a key's lock, and the scripts' keys and args.
    def _lock(self, key: str, claim: Claimed) -> tuple[str, str]:
        return self._prefix + key, _lock_value(claim)

    def _completion(
        self, key: str, claim: Claimed, response: StoredResponse, ttl: float
    ) -> dict[str, list[Any]]:
        answer = self._answer_value(claim.fingerprint, response)
        return {"keys": [self._prefix + key], "args": [_lock_value(claim), answer, _millis(ttl)]}

    def _succession(
        self, key: str, stale: Completed, claim: Claimed, lock_ttl: float
    ) -> dict[str, list[Any]]:
        was = stale.stored_as or self._answer_value(stale.fingerprint, stale.response)
        return {
            "keys": [self._prefix + key],
            "args": [was, _lock_value(claim), _millis(lock_ttl)],
        }

    def _release_of(self, key: str, claim: Claimed) -> dict[str, list[Any]]:
        return {"keys": [self._prefix + key], "args": [_lock_value(claim)]}

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Skipped while the breaker is open; a Redis error opens it and reads unavailable."""
        if self._breaker is not None and not self._breaker.allow():
            raise IdempotencyStoreUnavailable("circuit open")
        try:
            yield
        except (redis.RedisError, OSError) as error:
            if self._breaker is not None:
                self._breaker.failed(error)
            raise IdempotencyStoreUnavailable(type(error).__name__) from None

    async def _acall(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        with self._guarded():
            return await command(*args, **kwargs)

    def _call(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        with self._guarded():
            return command(*args, **kwargs)

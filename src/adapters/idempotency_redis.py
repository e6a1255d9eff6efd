"""The Redis idempotency store: one key per (scope, user, key), shared by every API process."""

import base64
import json
import secrets
from typing import Any, Protocol

import redis
from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment

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


def body_cipher(encryption_key: str | None) -> BodyCipher | None:
    """The events' AES-GCM cipher, when events are encrypted at rest."""
    if not encryption_key:
        return None
    return AESCipher(Environment(env={AESCipher.CIPHER_KEY: encryption_key}))


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
        cipher: BodyCipher | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._breaker = breaker
        self._cipher = cipher
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)
        self._supersede = client.register_script(_SUPERSEDE)

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
        return cls(client, prefix=prefix, breaker=breaker, cipher=cipher)

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
        return claim if existing is None else self._claim_from(existing)

    def complete(self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float) -> None:
        answer = self._answer_value(claim.fingerprint, response)
        self._call(
            self._complete,
            keys=[self._prefix + key],
            args=[_lock_value(claim), answer, _millis(ttl)],
        )

    def supersede(self, key: str, stale: Completed, claim: Claimed, *, lock_ttl: float) -> Claim:
        current = self._call(
            self._supersede,
            keys=[self._prefix + key],
            args=[
                stale.stored_as or self._answer_value(stale.fingerprint, stale.response),
                _lock_value(claim),
                _millis(lock_ttl),
            ],
        )
        return claim if current is None else self._claim_from(current)

    def release(self, key: str, claim: Claimed) -> None:
        self._call(self._release, keys=[self._prefix + key], args=[_lock_value(claim)])

    def ping(self) -> None:
        self._call(self._client.ping)

    def close(self) -> None:
        self._client.close()

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

    def _call(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        if self._breaker is not None and not self._breaker.allow():
            raise IdempotencyStoreUnavailable("circuit open")
        try:
            return command(*args, **kwargs)
        except (redis.RedisError, OSError) as error:
            if self._breaker is not None:
                self._breaker.failed(error)
            raise IdempotencyStoreUnavailable(type(error).__name__) from None

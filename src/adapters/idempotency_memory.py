"""The in-process idempotency store of the embedded default (one process, no servers)."""

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from application.ports import Claim, Claimed, Completed, InFlight, StoredResponse

SWEEP_EVERY = 1024


@dataclass(frozen=True)
class _Entry:
    expires_at: float
    fingerprint: str
    token: str | None = None
    response: StoredResponse | None = None


class InProcessIdempotencyStore:
    """IdempotencyStore in a dict behind a lock; behaves like the Redis store, per process."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._writes = 0

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= self._now():
            del self._entries[key]
            return None
        return entry

    def claim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        with self._lock:
            entry = self._live(key)
            if entry is not None and entry.response is not None:
                return Completed(fingerprint=entry.fingerprint, response=entry.response)
            if entry is not None:
                return InFlight(fingerprint=entry.fingerprint)
            claim = Claimed(token=secrets.token_hex(16), fingerprint=fingerprint)
            self._write(key, _Entry(self._now() + lock_ttl, fingerprint, token=claim.token))
            return claim

    def complete(self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float) -> None:
        with self._lock:
            entry = self._live(key)
            if entry is None or entry.token == claim.token:
                self._write(key, _Entry(self._now() + ttl, claim.fingerprint, response=response))

    def release(self, key: str, claim: Claimed) -> None:
        with self._lock:
            entry = self._live(key)
            if entry is not None and entry.token == claim.token:
                del self._entries[key]

    def supersede(self, key: str, stale: Completed, claim: Claimed, *, lock_ttl: float) -> Claim:
        with self._lock:
            entry = self._live(key)
            if entry is None or (entry.fingerprint, entry.response) == (
                stale.fingerprint,
                stale.response,
            ):
                self._write(key, _Entry(self._now() + lock_ttl, claim.fingerprint, claim.token))
                return claim
            if entry.response is not None:
                return Completed(fingerprint=entry.fingerprint, response=entry.response)
            return InFlight(fingerprint=entry.fingerprint)

    def ping(self) -> None:
        return None

    # Awaitable too: a dict behind a lock held for microseconds needs no thread.
    async def aclaim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        return self.claim(key, fingerprint, lock_ttl=lock_ttl)

    async def acomplete(
        self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float
    ) -> None:
        self.complete(key, claim, response, ttl=ttl)

    async def arelease(self, key: str, claim: Claimed) -> None:
        self.release(key, claim)

    async def asupersede(
        self, key: str, stale: Completed, claim: Claimed, *, lock_ttl: float
    ) -> Claim:
        return self.supersede(key, stale, claim, lock_ttl=lock_ttl)

    def _write(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            now = self._now()
            for stale in [k for k, e in self._entries.items() if e.expires_at <= now]:
                del self._entries[stale]

"""Idempotency as Stripe does it: one run per key, replays of its answer, 409 while it runs."""

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from application.errors import IdempotencyConflict, IdempotencyMismatch
from application.ports import (
    AwaitableIdempotencyStore,
    Claim,
    Claimed,
    Completed,
    IdempotencyStore,
    IdempotencyStoreUnavailable,
    StoredResponse,
)
from domain.card_data import is_card_number
from domain.errors import InvalidInput

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255
LOCK_TTL_SECONDS = 60.0
RESPONSE_TTL_SECONDS = 24 * 60 * 60.0
MISMATCH = "this Idempotency-Key was already used with a different request"
CONFLICT = "a request with this Idempotency-Key is still being processed; retry shortly"


# Given a stored answer: the answer to replay, or None when it no longer holds (the key is
# then run again, as if it were new).
Revalidate = Callable[[StoredResponse], StoredResponse | None]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What the first run answered; `keep=False` releases the key instead of caching it."""

    response: StoredResponse
    keep: bool = True


@dataclass(frozen=True, kw_only=True)
class Answer:
    response: StoredResponse
    replayed: bool
    key_hash: str


def validate_idempotency_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput("Idempotency-Key", "must be 1-255 printable characters")
    if is_card_number(key):
        raise InvalidInput("Idempotency-Key", "card data is not accepted")
    return key


def key_hash(scope: str, user_id: str, key: str) -> str:
    """The store's name for a client's key: scoped to the route and the user, never the key."""
    return hashlib.sha256("\x1f".join([scope, user_id, key]).encode()).hexdigest()


class IdempotentRequests:
    """The fast path in front of the durable one: locks and cached answers in a store.

    When the store is unavailable the fallback (a per-process store) takes over; without one
    the request runs on the durable path alone, which still never charges twice.
    """

    def __init__(
        self,
        store: IdempotencyStore,
        *,
        fallback: IdempotencyStore | None = None,
        lock_ttl: float = LOCK_TTL_SECONDS,
        response_ttl: float = RESPONSE_TTL_SECONDS,
    ) -> None:
        self.store = store
        self.fallback = fallback
        self.lock_ttl = lock_ttl
        self.response_ttl = response_ttl
        self._stores = [_Awaited(s) for s in (store, fallback) if s is not None]

    async def run(
        self,
        *,
        scope: str,
        user_id: str,
        key: str,
        fingerprint: str,
        handle: Callable[[], Awaitable[Outcome]],
        revalidate: Revalidate | None = None,
    ) -> Answer:
        """A store that can be awaited holds no thread; another one's calls run in a thread."""
        hashed = key_hash(scope, user_id, key)
        store, claim = await self._claim(hashed, fingerprint)
        for _ in range(2):  # a superseded answer is looked at once more, never in a loop
            if claim is None or isinstance(claim, Claimed):
                break
            if not isinstance(claim, Completed):
                if claim.fingerprint != fingerprint:
                    raise IdempotencyMismatch(MISMATCH)
                raise IdempotencyConflict(CONFLICT)
            # An answer its payment has left (a derived key's purchase refunded in full, say)
            # binds the key no longer, whatever body comes with it: the request runs again.
            replay = (
                claim.response
                if revalidate is None
                else await asyncio.to_thread(revalidate, claim.response)
            )
            if replay is not None:
                if claim.fingerprint != fingerprint:
                    raise IdempotencyMismatch(MISMATCH)
                return Answer(response=replay, replayed=True, key_hash=hashed)
            store, claim = await self._supersede(store, hashed, claim, fingerprint)
        try:
            outcome = await handle()
        except BaseException:
            await self._finish(store, hashed, claim, None)
            raise
        kept = outcome.response if outcome.keep else None
        await self._finish(store, hashed, claim, kept)
        return Answer(response=outcome.response, replayed=False, key_hash=hashed)

    async def aclose(self) -> None:
        """Close what the stores opened for the running event loop."""
        for store in self._stores:
            await store.aclose()

    async def _supersede(
        self, store: "_Awaited | None", hashed: str, stale: Completed, fingerprint: str
    ) -> tuple["_Awaited | None", Claim | None]:
        """Take the key over from an answer its payment has left, for this request's body: the
        answer it leaves replays for this body, not the one before."""
        if store is None:
            return None, None
        claim = Claimed(token=secrets.token_hex(16), fingerprint=fingerprint)
        try:
            return store, await store.supersede(hashed, stale, claim, lock_ttl=self.lock_ttl)
        except IdempotencyStoreUnavailable as error:
            log.debug("idempotency store unavailable (%s); using the durable path", error)
            return None, None

    async def _claim(self, hashed: str, fingerprint: str) -> tuple["_Awaited | None", Claim | None]:
        for store in self._stores:
            try:
                return store, await store.claim(hashed, fingerprint, lock_ttl=self.lock_ttl)
            except IdempotencyStoreUnavailable as error:
                log.debug("idempotency store unavailable (%s); using the next path", error)
        return None, None

    async def _finish(
        self,
        store: "_Awaited | None",
        hashed: str,
        claim: Claim | None,
        response: StoredResponse | None,
    ) -> None:
        if store is None or not isinstance(claim, Claimed):
            return
        try:
            if response is None:
                await store.release(hashed, claim)
            else:
                await store.complete(hashed, claim, response, ttl=self.response_ttl)
        except IdempotencyStoreUnavailable as error:
            # The lock expires by itself; the durable path answers any retry.
            log.debug("idempotency store unavailable at completion (%s)", error)


class _Awaited:
    """A store's calls as coroutines: awaited on the loop when the store offers that, else
    run in a worker thread (a blocking client)."""

    def __init__(self, store: IdempotencyStore) -> None:
        self.awaitable = store if isinstance(store, AwaitableIdempotencyStore) else None
        self.store = store

    async def claim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        if self.awaitable is not None:
            return await self.awaitable.aclaim(key, fingerprint, lock_ttl=lock_ttl)
        return await asyncio.to_thread(self.store.claim, key, fingerprint, lock_ttl=lock_ttl)

    async def complete(
        self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float
    ) -> None:
        if self.awaitable is not None:
            await self.awaitable.acomplete(key, claim, response, ttl=ttl)
        else:
            await asyncio.to_thread(self.store.complete, key, claim, response, ttl=ttl)

    async def release(self, key: str, claim: Claimed) -> None:
        if self.awaitable is not None:
            await self.awaitable.arelease(key, claim)
        else:
            await asyncio.to_thread(self.store.release, key, claim)

    async def supersede(
        self, key: str, stale: Completed, claim: Claimed, *, lock_ttl: float
    ) -> Claim:
        if self.awaitable is not None:
            return await self.awaitable.asupersede(key, stale, claim, lock_ttl=lock_ttl)
        return await asyncio.to_thread(self.store.supersede, key, stale, claim, lock_ttl=lock_ttl)

    async def aclose(self) -> None:
        close = getattr(self.store, "aclose", None)
        if close is not None:
            await close()

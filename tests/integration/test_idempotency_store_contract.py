"""One contract for every IdempotencyStore: the in-process store and Redis behave alike,
and so do their awaitable calls (`aclaim`, ...), the ones a worker's event loop uses."""

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis
from eventsourcing.cipher import AESCipher

from adapters.idempotency_memory import InProcessIdempotencyStore
from adapters.idempotency_redis import RedisIdempotencyStore, body_cipher
from application.idempotency import IdempotentRequests, Outcome
from application.ports import (
    AwaitableIdempotencyStore,
    Claim,
    Claimed,
    Completed,
    IdempotencyStore,
    IdempotencyStoreUnavailable,
    InFlight,
    StoredResponse,
)
from tests.redis_keys import unique_prefix

KEY = AESCipher.create_key(32)
LOCK = 30.0
DAY = 24 * 3600.0
CREATED = StoredResponse(status_code=201, body=b'{"success":true,"paymentId":"p-1"}')


class IdempotencyStoreContract:
    @pytest.fixture
    def store(self) -> IdempotencyStore:
        raise NotImplementedError

    def claimed(self, store: IdempotencyStore, key: str = "k", fp: str = "fp-a") -> Claimed:
        claim = store.claim(key, fp, lock_ttl=LOCK)
        assert isinstance(claim, Claimed)
        return claim

    def test_implements_the_port(self, store: IdempotencyStore) -> None:
        assert isinstance(store, IdempotencyStore)
        store.ping()

    def test_the_first_claim_wins_and_the_second_sees_it_in_flight(
        self, store: IdempotencyStore
    ) -> None:
        self.claimed(store)
        assert store.claim("k", "fp-a", lock_ttl=LOCK) == InFlight(fingerprint="fp-a")
        assert store.claim("k", "fp-b", lock_ttl=LOCK) == InFlight(fingerprint="fp-a")

    def test_a_completed_claim_is_replayed_byte_for_byte(self, store: IdempotencyStore) -> None:
        claim = self.claimed(store)
        store.complete("k", claim, CREATED, ttl=DAY)
        assert store.claim("k", "fp-a", lock_ttl=LOCK) == Completed(
            fingerprint="fp-a", response=CREATED
        )

    def test_a_released_key_can_be_claimed_again(self, store: IdempotencyStore) -> None:
        store.release("k", self.claimed(store))
        self.claimed(store, fp="fp-b")

    def test_keys_are_independent(self, store: IdempotencyStore) -> None:
        self.claimed(store, "k1")
        self.claimed(store, "k2")

    def test_a_lock_expires_so_a_crashed_holder_does_not_keep_the_key(
        self, store: IdempotencyStore
    ) -> None:
        assert isinstance(store.claim("k", "fp-a", lock_ttl=0.2), Claimed)
        time.sleep(0.35)
        self.claimed(store)

    def test_a_cached_response_expires(self, store: IdempotencyStore) -> None:
        store.complete("k", self.claimed(store), CREATED, ttl=0.2)
        time.sleep(0.35)
        self.claimed(store)

    def test_a_stale_holder_neither_releases_nor_overwrites_the_next_holder(
        self, store: IdempotencyStore
    ) -> None:
        stale = store.claim("k", "fp-a", lock_ttl=0.2)
        assert isinstance(stale, Claimed)
        time.sleep(0.35)
        current = self.claimed(store)
        store.release("k", stale)
        store.complete("k", stale, CREATED, ttl=DAY)
        assert store.claim("k", "fp-a", lock_ttl=LOCK) == InFlight(fingerprint="fp-a")
        store.complete("k", current, CREATED, ttl=DAY)
        assert isinstance(store.claim("k", "fp-a", lock_ttl=LOCK), Completed)

    def test_a_holder_whose_lock_expired_unclaimed_still_stores_its_answer(
        self, store: IdempotencyStore
    ) -> None:
        claim = store.claim("k", "fp-a", lock_ttl=0.2)
        assert isinstance(claim, Claimed)
        time.sleep(0.35)
        store.complete("k", claim, CREATED, ttl=DAY)
        assert store.claim("k", "fp-a", lock_ttl=LOCK) == Completed(
            fingerprint="fp-a", response=CREATED
        )

    def test_an_answer_is_never_released_by_its_holder(self, store: IdempotencyStore) -> None:
        claim = self.claimed(store)
        store.complete("k", claim, CREATED, ttl=DAY)
        store.release("k", claim)
        assert isinstance(store.claim("k", "fp-a", lock_ttl=LOCK), Completed)

    def test_a_stale_answer_is_superseded_by_a_new_lock_once(self, store: IdempotencyStore) -> None:
        store.complete("k", self.claimed(store), CREATED, ttl=DAY)
        stale = store.claim("k", "fp-a", lock_ttl=LOCK)
        assert isinstance(stale, Completed)
        mine = Claimed(token="t-1", fingerprint="fp-a")
        theirs = Claimed(token="t-2", fingerprint="fp-a")

        assert store.supersede("k", stale, mine, lock_ttl=LOCK) == mine
        assert store.supersede("k", stale, theirs, lock_ttl=LOCK) == InFlight(fingerprint="fp-a")
        newer = StoredResponse(status_code=201, body=b'{"paymentId":"p-2"}')
        store.complete("k", mine, newer, ttl=DAY)
        assert store.claim("k", "fp-a", lock_ttl=LOCK) == Completed(
            fingerprint="fp-a", response=newer
        )

    def test_superseding_an_expired_answer_takes_the_key(self, store: IdempotencyStore) -> None:
        stale = Completed(fingerprint="fp-a", response=CREATED)
        mine = Claimed(token="t-1", fingerprint="fp-a")
        assert store.supersede("k", stale, mine, lock_ttl=LOCK) == mine
        assert store.claim("k", "fp-a", lock_ttl=LOCK) == InFlight(fingerprint="fp-a")


class TestInProcessStore(IdempotencyStoreContract):
    @pytest.fixture
    def store(self) -> IdempotencyStore:
        return InProcessIdempotencyStore()


class TestRedisStore(IdempotencyStoreContract):
    @pytest.fixture
    def store(self, redis_server_url: str) -> Iterator[IdempotencyStore]:
        with unique_prefix(redis_server_url) as prefix:
            store = RedisIdempotencyStore.from_url(redis_server_url, prefix=prefix)
            yield store
            store.close()


class TestEncryptedRedisStore(IdempotencyStoreContract):
    """With the events' key, cached answers (a client secret among them) are sealed in Redis."""

    awaited = False  # the contract through the blocking calls, or through the awaitable ones

    @pytest.fixture
    def store(self, redis_server_url: str) -> Iterator[IdempotencyStore]:
        with unique_prefix(redis_server_url) as prefix:
            sealed = RedisIdempotencyStore.from_url(
                redis_server_url, prefix=prefix, cipher=body_cipher(KEY)
            )
            used = Awaited(sealed) if self.awaited else None
            self.raw = redis.Redis.from_url(redis_server_url)
            self.prefix = prefix
            yield used or sealed
            if used is not None:
                used.close()
            sealed.close()
            self.raw.close()

    def test_the_stored_answer_is_not_readable_in_redis(self, store: IdempotencyStore) -> None:
        secret = StoredResponse(status_code=201, body=b'{"clientSecret":"pi_1_secret_abc"}')
        store.complete("k", self.claimed(store), secret, ttl=DAY)
        raw = self.raw.get(self.prefix + "k")
        assert raw is not None and b"secret" not in raw
        assert store.claim("k", "fp-a", lock_ttl=LOCK) == Completed(
            fingerprint="fp-a", response=secret
        )


class Awaited:
    """The store's awaitable calls, each awaited on one event loop, as the sync port."""

    def __init__(self, store: AwaitableIdempotencyStore) -> None:
        self.store = store
        self.loop = asyncio.new_event_loop()

    def claim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        return self.loop.run_until_complete(self.store.aclaim(key, fingerprint, lock_ttl=lock_ttl))

    def complete(self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float) -> None:
        self.loop.run_until_complete(self.store.acomplete(key, claim, response, ttl=ttl))

    def release(self, key: str, claim: Claimed) -> None:
        self.loop.run_until_complete(self.store.arelease(key, claim))

    def supersede(self, key: str, stale: Completed, claim: Claimed, *, lock_ttl: float) -> Claim:
        return self.loop.run_until_complete(
            self.store.asupersede(key, stale, claim, lock_ttl=lock_ttl)
        )

    def ping(self) -> None:
        self.store.ping()

    def close(self) -> None:
        close = getattr(self.store, "aclose", None)
        if close is not None:
            self.loop.run_until_complete(close())
        self.loop.close()


class TestInProcessStoreAwaited(IdempotencyStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[IdempotencyStore]:
        awaited = Awaited(InProcessIdempotencyStore())
        yield awaited
        awaited.close()


class TestRedisStoreAwaited(IdempotencyStoreContract):
    @pytest.fixture
    def store(self, redis_server_url: str) -> Iterator[IdempotencyStore]:
        with unique_prefix(redis_server_url) as prefix:
            awaited = Awaited(RedisIdempotencyStore.from_url(redis_server_url, prefix=prefix))
            yield awaited
            awaited.close()
            awaited.store.close()


class TestEncryptedRedisStoreAwaited(TestEncryptedRedisStore):
    awaited = True


def test_hundreds_of_calls_at_once_on_one_loop_all_answer(redis_server_url: str) -> None:
    """As many claims as a worker admits charges, at once: none is refused for connections."""
    with unique_prefix(redis_server_url) as prefix:
        store = RedisIdempotencyStore.from_url(redis_server_url, prefix=prefix)

        async def claim_all() -> list[Claim]:
            try:
                return await asyncio.gather(
                    *(store.aclaim(f"k-{n}", "fp", lock_ttl=LOCK) for n in range(300))
                )
            finally:
                await store.aclose()

        claims = asyncio.run(claim_all())
        store.close()
    assert all(isinstance(claim, Claimed) for claim in claims)


def test_both_stores_can_be_awaited() -> None:
    assert isinstance(InProcessIdempotencyStore(), AwaitableIdempotencyStore)
    assert isinstance(
        RedisIdempotencyStore.from_url("redis://127.0.0.1:1/0"), AwaitableIdempotencyStore
    )


def test_an_unreachable_redis_is_reported_as_unavailable_when_awaited(closed_port: int) -> None:
    store = RedisIdempotencyStore.from_url(f"redis://127.0.0.1:{closed_port}/0")

    async def claim() -> Claim:
        return await store.aclaim("k", "fp", lock_ttl=LOCK)

    with pytest.raises(IdempotencyStoreUnavailable):
        asyncio.run(claim())


def test_with_redis_unreachable_awaited_requests_keep_the_rules_in_process(
    closed_port: int,
) -> None:
    """The worker's path: Redis refused, the in-process fallback answers replays and locks."""
    requests = IdempotentRequests(
        RedisIdempotencyStore.from_url(f"redis://127.0.0.1:{closed_port}/0"),
        fallback=InProcessIdempotencyStore(),
    )
    runs: list[int] = []

    async def handle() -> Outcome:
        runs.append(1)
        return Outcome(response=CREATED)

    async def twice() -> list[bool]:
        answers = [
            await requests.run(
                scope="process", user_id="u", key="k", fingerprint="fp", handle=handle
            )
            for _ in range(2)
        ]
        return [answer.replayed for answer in answers]

    assert asyncio.run(twice()) == [False, True]
    assert runs == [1], "run once; the copy replayed from the fallback"


def test_an_unreachable_redis_is_reported_as_unavailable(closed_port: int) -> None:
    store = RedisIdempotencyStore.from_url(f"redis://127.0.0.1:{closed_port}/0")
    for call in (lambda: store.claim("k", "fp", lock_ttl=LOCK), store.ping):
        with pytest.raises(IdempotencyStoreUnavailable):
            call()

"""IdempotentRequests: the replay / mismatch / conflict rules and what happens without Redis."""

import asyncio
from collections.abc import Callable

import pytest

from adapters.idempotency_memory import InProcessIdempotencyStore
from application.errors import IdempotencyConflict, IdempotencyMismatch
from application.idempotency import IdempotentRequests, Outcome
from application.ports import (
    Claim,
    Claimed,
    IdempotencyStoreUnavailable,
    StoredResponse,
)
from tests.fakes import awaitable


class DownStore:
    """An IdempotencyStore whose server does not answer."""

    def claim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        raise IdempotencyStoreUnavailable("ConnectionError")

    def complete(self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float) -> None:
        raise IdempotencyStoreUnavailable("ConnectionError")

    def release(self, key: str, claim: Claimed) -> None:
        raise IdempotencyStoreUnavailable("ConnectionError")

    def ping(self) -> None:
        raise IdempotencyStoreUnavailable("ConnectionError")


class Handler:
    """Counts its runs; answers 201 with the run number so that replays are recognisable."""

    def __init__(self, keep: bool = True) -> None:
        self.runs = 0
        self.keep = keep

    def __call__(self) -> Outcome:
        self.runs += 1
        body = f'{{"run":{self.runs}}}'.encode()
        return Outcome(response=StoredResponse(status_code=201, body=body), keep=self.keep)


def send(
    requests: IdempotentRequests,
    handle: Callable[[], Outcome],
    *,
    key: str = "k",
    body: str = "a",
    user: str = "u1",
) -> tuple[StoredResponse, bool]:
    answer = asyncio.run(
        requests.run(
            scope="process", user_id=user, key=key, fingerprint=body, handle=awaitable(handle)
        )
    )
    return answer.response, answer.replayed


@pytest.fixture
def requests() -> IdempotentRequests:
    return IdempotentRequests(InProcessIdempotencyStore())


def test_the_same_key_and_body_replays_the_first_answer(requests: IdempotentRequests) -> None:
    handler = Handler()
    first, replayed_first = send(requests, handler)
    second, replayed_second = send(requests, handler)
    assert (replayed_first, replayed_second) == (False, True)
    assert second == first
    assert handler.runs == 1


def test_the_same_key_with_another_body_is_a_mismatch(requests: IdempotentRequests) -> None:
    handler = Handler()
    send(requests, handler)
    with pytest.raises(IdempotencyMismatch):
        send(requests, handler, body="b")
    assert handler.runs == 1


def test_a_second_request_while_the_first_runs_is_a_conflict(
    requests: IdempotentRequests,
) -> None:
    seen: list[type[Exception]] = []

    async def first() -> Outcome:
        for body in ("a", "b"):
            with pytest.raises((IdempotencyConflict, IdempotencyMismatch)) as error:
                await requests.run(
                    scope="process", user_id="u1", key="k", fingerprint=body, handle=first
                )
            seen.append(error.type)
        return Handler()()

    asyncio.run(requests.run(scope="process", user_id="u1", key="k", fingerprint="a", handle=first))
    assert seen == [IdempotencyConflict, IdempotencyMismatch]


def test_keys_are_scoped_to_the_user_and_the_route(requests: IdempotentRequests) -> None:
    handler = Handler()
    send(requests, handler, user="u1")
    send(requests, handler, user="u2")
    answer = asyncio.run(
        requests.run(
            scope="refund", user_id="u1", key="k", fingerprint="a", handle=awaitable(handler)
        )
    )
    assert not answer.replayed
    assert handler.runs == 3


def test_a_failure_releases_the_key_and_a_retry_runs_again(requests: IdempotentRequests) -> None:
    def broken() -> Outcome:
        raise RuntimeError("gateway timed out")

    with pytest.raises(RuntimeError):
        send(requests, broken)
    handler = Handler()
    assert send(requests, handler) == (StoredResponse(status_code=201, body=b'{"run":1}'), False)


def test_an_answer_not_kept_releases_the_key(requests: IdempotentRequests) -> None:
    declined = Handler(keep=False)
    send(requests, declined)
    send(requests, declined)
    assert declined.runs == 2


def test_with_the_store_down_the_fallback_keeps_the_rules() -> None:
    requests = IdempotentRequests(DownStore(), fallback=InProcessIdempotencyStore())
    handler = Handler()
    send(requests, handler)
    assert send(requests, handler)[1] is True
    with pytest.raises(IdempotencyMismatch):
        send(requests, handler, body="b")
    assert handler.runs == 1


def test_with_the_store_down_and_no_fallback_every_request_runs_on_the_durable_path() -> None:
    requests = IdempotentRequests(DownStore())
    handler = Handler()
    send(requests, handler)
    assert send(requests, handler) == (StoredResponse(status_code=201, body=b'{"run":2}'), False)


class OnTheLoopOnly(InProcessIdempotencyStore):
    """A store whose blocking calls must not be used: a worker thread would call those."""

    def __init__(self) -> None:
        super().__init__()
        self.loop_calls = 0

    async def aclaim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        self.loop_calls += 1
        return await super().aclaim(key, fingerprint, lock_ttl=lock_ttl)


def test_a_store_that_can_be_awaited_is_awaited_on_the_loop_not_in_a_thread() -> None:
    import threading

    store = OnTheLoopOnly()
    called_from: list[str] = []
    blocking_claim = store.claim

    def claim(key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        called_from.append(threading.current_thread().name)
        return blocking_claim(key, fingerprint, lock_ttl=lock_ttl)

    store.claim = claim  # type: ignore[method-assign]
    handler = Handler()
    send(IdempotentRequests(store), handler)
    assert send(IdempotentRequests(store), handler)[1] is True
    assert store.loop_calls == 2
    assert called_from == [threading.main_thread().name] * 2, "claimed on the loop's thread"

"""A state machine over (user, key, body, timing) checking Stripe's rules against a model.

Requests can be held in flight (their handler blocks in a thread) while others arrive, and
the clock can jump past the lock's expiry or the 24 h during which an answer is kept.
"""

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, multiple, rule

from adapters.idempotency_memory import InProcessIdempotencyStore
from application.errors import IdempotencyConflict, IdempotencyMismatch
from application.idempotency import IdempotentRequests, Outcome
from application.ports import StoredResponse
from tests.fakes import awaitable

LOCK = 60.0
DAY = 24 * 3600.0
users = st.sampled_from(["u1", "u2"])
keys = st.sampled_from(["k1", "k2"])
bodies = st.sampled_from(["a", "b"])


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Entry:
    body: str
    expires_at: float
    owner: int | None = None
    response: StoredResponse | None = None


@dataclass
class Running:
    """A request whose handler has started and waits to be told how to finish."""

    number: int
    scope: tuple[str, str]
    body: str
    release: threading.Event = field(default_factory=threading.Event)
    keep: bool = True
    result: Any = None
    thread: threading.Thread | None = None


class IdempotencyRules(RuleBasedStateMachine):
    running = Bundle("running")

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.requests = IdempotentRequests(
            InProcessIdempotencyStore(now=self.clock), lock_ttl=LOCK, response_ttl=DAY
        )
        self.model: dict[tuple[str, str], Entry] = {}
        self.count = 0
        self.unfinished: list[Running] = []

    def live(self, scope: tuple[str, str]) -> Entry | None:
        entry = self.model.get(scope)
        return entry if entry is not None and entry.expires_at > self.clock.now else None

    def expected(self, scope: tuple[str, str], body: str) -> object:
        entry = self.live(scope)
        if entry is None:
            return "runs"
        if entry.body != body:
            return IdempotencyMismatch
        return IdempotencyConflict if entry.response is None else entry.response

    def response_of(self, number: int) -> StoredResponse:
        return StoredResponse(status_code=201, body=f'{{"run":{number}}}'.encode())

    def send(self, user: str, key: str, body: str, handle: Any) -> Any:
        try:
            return asyncio.run(
                self.requests.run(
                    scope="process",
                    user_id=user,
                    key=key,
                    fingerprint=body,
                    handle=awaitable(handle),
                )
            )
        except (IdempotencyConflict, IdempotencyMismatch) as error:
            return type(error)

    def check_refused_or_replayed(self, answer: Any, expected: object) -> None:
        if isinstance(expected, StoredResponse):
            assert answer.replayed and answer.response == expected
        else:
            assert answer is expected

    @rule(user=users, key=keys, body=bodies, keep=st.booleans())
    def request(self, user: str, key: str, body: str, keep: bool) -> None:
        """A request that runs to completion at once, or is refused, or replayed."""
        scope, expected = (user, key), self.expected((user, key), body)
        self.count += 1
        number = self.count
        answer = self.send(
            user, key, body, lambda: Outcome(response=self.response_of(number), keep=keep)
        )
        if expected != "runs":
            self.check_refused_or_replayed(answer, expected)
            return
        assert not answer.replayed and answer.response == self.response_of(number)
        self.model.pop(scope, None)
        if keep:
            self.model[scope] = Entry(body, self.clock.now + DAY, response=answer.response)

    @rule(target=running, user=users, key=keys, body=bodies)
    def start(self, user: str, key: str, body: str) -> Any:
        """A request whose handler is held in flight."""
        scope, expected = (user, key), self.expected((user, key), body)
        self.count += 1
        if expected != "runs":
            self.check_refused_or_replayed(self.send(user, key, body, self.never), expected)
            return multiple()
        request = Running(self.count, scope, body)
        entered = threading.Event()

        def handle() -> Outcome:
            entered.set()
            assert request.release.wait(10)
            return Outcome(response=self.response_of(request.number), keep=request.keep)

        def run() -> None:
            request.result = self.send(user, key, body, handle)

        request.thread = threading.Thread(target=run)
        request.thread.start()
        while not entered.wait(0.01) and request.thread.is_alive():
            pass
        assert entered.is_set(), f"expected the request to run, it answered {request.result}"
        self.model[scope] = Entry(body, self.clock.now + LOCK, owner=request.number)
        self.unfinished.append(request)
        return request

    @rule(request=consumes(running), keep=st.booleans())
    def finish(self, request: Running, keep: bool) -> None:
        request.keep = keep
        request.release.set()
        assert request.thread is not None
        request.thread.join(10)
        self.unfinished.remove(request)
        assert not request.result.replayed
        assert request.result.response == self.response_of(request.number)
        entry = self.live(request.scope)
        ours = entry is not None and entry.owner == request.number
        if ours and not keep:
            del self.model[request.scope]
        elif keep and (ours or entry is None):
            self.model[request.scope] = Entry(
                request.body, self.clock.now + DAY, response=request.result.response
            )

    @rule(seconds=st.sampled_from([1.0, LOCK, DAY]))
    def wait(self, seconds: float) -> None:
        self.clock.now += seconds

    def never(self) -> Outcome:
        raise AssertionError("a refused or replayed request must not run")

    def teardown(self) -> None:
        for request in self.unfinished:
            request.release.set()
            if request.thread is not None:
                request.thread.join(10)


IdempotencyRules.TestCase.settings = settings(
    max_examples=100, stateful_step_count=30, deadline=None
)
TestIdempotencyRules = IdempotencyRules.TestCase

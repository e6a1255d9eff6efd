"""The circuit breaker: one failure opens it, skips are counted, a passing probe closes it."""

import asyncio
import time

from adapters.circuit_breaker import CircuitBreaker
from adapters.rate_counter import LocalRateCounter


class FlakyProbe:
    def __init__(self) -> None:
        self.answers = False
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if not self.answers:
            raise ConnectionError("no answer")


def wait_until(condition: object, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.01)
    return False


def test_a_failure_opens_the_breaker_and_calls_are_skipped_and_counted() -> None:
    changes: list[bool] = []
    probe = FlakyProbe()
    breaker = CircuitBreaker("redis", probe, retry_every=0.02, on_change=changes.append)
    assert breaker.allow()

    breaker.failed(TimeoutError())
    breaker.failed(TimeoutError())  # a second failure changes nothing more

    assert breaker.is_open
    assert [breaker.allow() for _ in range(3)] == [False, False, False]
    assert breaker.skipped == 3
    assert changes == [True]
    assert breaker.last_error == "TimeoutError"
    breaker.stop()


def test_the_background_probe_closes_the_breaker_once_the_dependency_answers() -> None:
    changes: list[bool] = []
    probe = FlakyProbe()
    breaker = CircuitBreaker("redis", probe, retry_every=0.02, on_change=changes.append)
    breaker.failed(ConnectionError())
    assert wait_until(lambda: probe.calls >= 2)
    assert breaker.is_open

    probe.answers = True

    assert wait_until(lambda: not breaker.is_open)
    assert breaker.allow()
    assert changes == [True, False]
    breaker.stop()


def test_a_stopped_breaker_neither_opens_nor_probes() -> None:
    probe = FlakyProbe()
    breaker = CircuitBreaker("redis", probe, retry_every=0.01)
    breaker.stop()
    breaker.failed(ConnectionError())
    time.sleep(0.1)
    assert not breaker.is_open
    assert probe.calls == 0


def test_local_counts_reset_with_their_window() -> None:
    now = [100.0]
    counter = LocalRateCounter(now=lambda: now[0])
    counts = [counter.hit_now("k", 60).count for _ in range(3)]
    assert counts == [1, 2, 3]
    assert asyncio.run(counter.count("k")) == 3
    now[0] += 61
    assert asyncio.run(counter.count("k")) == 0
    window = asyncio.run(counter.hit("k", 60))
    assert (window.count, window.reset_in) == (1, 60)

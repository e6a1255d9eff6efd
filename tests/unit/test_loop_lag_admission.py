"""Admission by the worker's own pace: a loop that stays late admits fewer charges."""

import asyncio
import time

import pytest

from application.errors import ServiceUnavailable
from entrypoints.http.admission import LAG_FLOOR, Admission, LoopLag


def test_one_pause_moves_the_lag_little_and_a_loop_that_stays_late_moves_it_all_the_way() -> None:
    paused_once = LoopLag()
    paused_once.observe(0.100)
    assert paused_once.smoothed == pytest.approx(0.010)
    stays_late = LoopLag()
    for _ in range(60):
        stays_late.observe(0.050)
    assert stays_late.smoothed == pytest.approx(0.050, rel=0.01)
    for _ in range(30):
        stays_late.observe(0.0)
    assert stays_late.smoothed < 0.003


def late_for(admission: Admission, seconds: float, *, late: float, start: float = 0.0) -> float:
    """Samples every 10 ms of a loop `late` seconds late, for `seconds`; the time after."""
    now = start
    while now < start + seconds:
        now += 0.01 + late
        admission.pace(late, now)
    return now


def test_while_the_loop_stays_late_the_bound_shrinks_to_the_floor_and_grows_back_after() -> None:
    admission = Admission(250, 10.0, max_lag=0.040)
    now = late_for(admission, 0.05, late=0.100)  # one pause: the smoothed lag stays under 40 ms
    assert admission.bound == 250
    now = late_for(admission, 1.0, late=0.040, start=now)
    assert admission.bound == 250, "on time, just"
    now = late_for(admission, 1.0, late=0.080, start=now)  # a second late: a fifth off, 5 times
    assert admission.bound <= 250 * 0.8**5
    admission.in_flight = admission.bound
    assert admission.full
    now = late_for(admission, 3.0, late=0.080, start=now)
    assert admission.bound == LAG_FLOOR, "however late, the first few are admitted"
    admission.in_flight = LAG_FLOOR - 1
    assert not admission.full

    for n in range(400):  # on time again: the bound grows by one a sample
        admission.pace(0.0, now + n * 0.01)
    assert admission.bound == 250
    admission.in_flight = 249
    assert not admission.full
    admission.in_flight = 250
    assert admission.full, "the count still bounds"


def test_without_a_lag_bound_admission_is_by_count_alone() -> None:
    admission = Admission(250, 10.0, max_lag=None)
    asyncio.run(asyncio.wait_for(admission.watch(), timeout=1))  # nothing to sample for
    late_for(admission, 10.0, late=0.500)
    admission.in_flight = 249
    assert not admission.full


def test_the_watch_paces_by_the_lag_of_the_loop_it_runs_on() -> None:
    admission = Admission(250, 10.0, max_lag=0.010)

    async def busy() -> None:
        watching = asyncio.create_task(admission.watch())
        await asyncio.sleep(0.05)
        assert admission.bound == 250, "an idle loop is on time"
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            time.sleep(0.03)  # CPU work that yields only every 30 ms
            await asyncio.sleep(0)
        watching.cancel()

    asyncio.run(busy())
    assert admission.lag.smoothed > 0.010
    assert admission.bound < 250


def test_a_refused_request_is_counted_and_asked_to_retry() -> None:
    admission = Admission(250, 10.0, max_lag=0.040)
    late_for(admission, 10.0, late=0.200)
    admission.in_flight = LAG_FLOOR

    async def enter() -> None:
        async with admission.admitted("process"):
            raise AssertionError("admitted while late")

    with pytest.raises(ServiceUnavailable) as refused:
        asyncio.run(enter())
    assert refused.value.retry_after == 1
    assert admission.in_flight == LAG_FLOOR, "nothing was taken"

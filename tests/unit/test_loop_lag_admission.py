"""Admission by the worker's own pace: a loop that runs late admits fewer charges."""

import asyncio
import time

import pytest

from application.errors import ServiceUnavailable
from entrypoints.http.admission import LAG_FLOOR, Admission


def late_for(admission: Admission, seconds: float, *, late: float, start: float = 0.0) -> float:
    """Samples every 10 ms of a loop `late` seconds late, for `seconds`; the time after."""
    now = start
    while now < start + seconds:
        now += 0.01 + late
        admission.pace(late, now)
    return now


def test_one_late_sample_moves_nothing_and_two_in_a_row_stop_admitting_at_once() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission.in_flight = 100
    admission.pace(0.150, 1.0)  # a collection pause, a wait for the CPU
    assert admission.bound == 250
    admission.pace(0.0, 1.01)
    admission.pace(0.030, 1.05)
    assert admission.bound == 250, "late samples that are not in a row"

    admission.pace(0.030, 1.09)
    assert admission.bound == 80, "a fifth below what is in flight, not below the old bound"
    assert admission.full, "nothing more until a fifth of what runs has ended"
    admission.in_flight = 79
    assert not admission.full


def test_while_the_loop_stays_late_the_bound_shrinks_to_the_floor_and_grows_back_after() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission.in_flight = 200
    now = late_for(admission, 1.0, late=0.020)
    assert admission.bound == 250, "on time, just"
    now = late_for(admission, 0.09, late=0.040, start=now)  # two samples late: one decrease
    assert admission.bound == 160
    now = late_for(admission, 0.3, late=0.040, start=now)
    assert admission.bound < 160 * 0.8**2, "a decrease every 50 ms while it stays late"
    now = late_for(admission, 3.0, late=0.040, start=now)
    assert admission.bound == LAG_FLOOR, "however late, the first few are admitted"
    admission.in_flight = LAG_FLOOR - 1
    assert not admission.full

    now = late_for(admission, 1.0, late=0.015, start=now)
    assert admission.bound == LAG_FLOOR, "neither late nor on time: the bound holds"
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
    admission.in_flight = 200
    late_for(admission, 10.0, late=0.500)
    admission.in_flight = 249
    assert not admission.full


def test_the_watch_paces_by_the_lag_of_the_loop_it_runs_on() -> None:
    admission = Admission(250, 10.0, max_lag=0.010)

    async def busy() -> None:
        watching = asyncio.create_task(admission.watch())
        await asyncio.sleep(0.05)
        assert admission.bound == 250, "an idle loop is on time"
        admission.in_flight = 100
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            time.sleep(0.03)  # CPU work that yields only every 30 ms
            await asyncio.sleep(0)
        watching.cancel()

    asyncio.run(busy())
    assert admission.bound < 100


def test_a_refused_request_is_counted_and_asked_to_retry() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission.in_flight = LAG_FLOOR
    late_for(admission, 10.0, late=0.200)

    async def enter() -> None:
        async with admission.admitted("process"):
            raise AssertionError("admitted while late")

    with pytest.raises(ServiceUnavailable) as refused:
        asyncio.run(enter())
    assert refused.value.retry_after == 1
    assert admission.in_flight == LAG_FLOOR, "nothing was taken"

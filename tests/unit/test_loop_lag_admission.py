"""Admission by the worker's own pace: a loop that runs late admits fewer charges."""

import asyncio
import math
import time

import pytest

from application.errors import ServiceUnavailable
from entrypoints.http.admission import LAG_FLOOR, Admission


def turn_one_away(admission: Admission) -> None:
    """One request refused at capacity, as the door refuses them: the worker turns clients away."""
    in_flight, admission.in_flight = admission.in_flight, admission.limit
    assert admission.turns_away()
    admission.in_flight = in_flight


def late_for(
    admission: Admission,
    seconds: float,
    *,
    late: float,
    start: float = 0.0,
    refusing: bool = True,
) -> float:
    """Samples every 10 ms of a loop `late` seconds late, for `seconds`; the time after.
    `refusing`: meanwhile the worker turns a request away before each sample."""
    now = start
    while now < start + seconds:
        now += 0.01 + late
        if refusing:
            turn_one_away(admission)
        admission.pace(late, now)
    return now


def test_late_samples_not_in_a_row_move_nothing_and_three_in_a_row_stop_admitting() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission.in_flight = 100
    turn_one_away(admission)  # the worker is turning clients away
    admission.pace(0.150, 1.0)  # a collection pause, a wait for the CPU
    admission.pace(0.030, 1.04)
    assert admission.bound == 250
    admission.pace(0.0, 1.05)
    admission.pace(0.030, 1.09)
    admission.pace(0.030, 1.13)
    assert admission.bound == 250, "late samples that are not three in a row"

    admission.pace(0.030, 1.17)
    assert admission.bound == 80, "a fifth below what is in flight, not below the old bound"
    assert admission.full, "nothing more until a fifth of what runs has ended"
    admission.in_flight = 79
    assert not admission.full


def test_a_short_late_spell_while_every_request_is_let_in_cuts_nothing() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission.in_flight = 64  # a busy worker with room for all its clients
    for n in range(4):  # the machine took a pause: four samples in a row 40 ms late
        admission.pace(0.040, 1.0 + n * 0.05)
    assert admission.bound == 250, "no client was turned away: a pause, not more clients"
    assert not admission.full
    admission.pace(0.040, 1.2)
    assert admission.bound == 250, "late samples spanning 0.2 s"
    admission.pace(0.040, 1.25)
    assert admission.bound == int(64 * 0.8), "spanning a quarter of a second: its own work"


def test_one_long_pause_then_a_few_late_samples_cuts_nothing_while_all_are_let_in() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission.in_flight = 64
    admission.pace(0.400, 1.0)  # the machine stopped the worker for 0.4 s
    admission.pace(0.030, 1.04)
    admission.pace(0.030, 1.08)
    assert admission.bound == 250, "one pause, however long, is not a late spell"


def test_a_late_spell_while_refusing_cuts_at_three_samples_and_no_longer_once_it_stops() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission.in_flight = 64
    turn_one_away(admission)  # past its capacity: requests are being refused
    admission.pace(0.040, 1.0)
    admission.pace(0.040, 1.05)
    assert admission.bound == 250
    admission.pace(0.040, 1.1)
    assert admission.bound == int(64 * 0.8), "late while refusing: the bound falls"

    for n in range(7):  # still late; the refusal is now ten samples old
        admission.pace(0.040, 1.15 + n * 0.05)
    assert admission.bound < int(64 * 0.8)
    cut = admission.bound
    admission.pace(0.015, 1.5)  # neither late nor on time: the spell is over
    for n in range(4):  # late again, nobody refused, for 0.19 s
        admission.pace(0.040, 2.0 + n * 0.05)
    assert admission.bound == cut, "no refusal within 10 samples: a short late spell cuts no more"


def test_while_the_loop_stays_late_the_bound_shrinks_to_the_floor_and_grows_back_after() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission.in_flight = 200
    now = late_for(admission, 1.0, late=0.020)
    assert admission.bound == 250, "on time, just"
    now = late_for(admission, 0.14, late=0.040, start=now)  # three samples late: one decrease
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
            turn_one_away(admission)  # and clients turned away meanwhile
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

    async def refusals() -> list[int]:
        asked = []
        for _ in range(100):
            with pytest.raises(ServiceUnavailable) as refused:
                await enter()
            asked.append(refused.value.retry_after)
        return asked

    asked = asyncio.run(refusals())
    assert set(asked) == {1, 2, 3}, "refused together, asked back over one to three seconds"
    assert admission.in_flight == LAG_FLOOR, "nothing was taken"


async def charge(admission: Admission, n: int, started: list[int]) -> None:
    """One charge: `n` is noted in `started` once it may start."""
    async with admission.admitted("process"):
        started.append(n)


def test_a_burst_of_charges_starts_a_few_at_a_time_the_rest_admitted_and_waiting() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    started: list[int] = []

    async def burst() -> None:
        charges = [asyncio.create_task(charge(admission, n, started)) for n in range(40)]
        await asyncio.sleep(0.01)
        assert started == list(range(Admission.STARTS_BURST)), "a burst at once, in order"
        assert admission.in_flight == 40 - Admission.STARTS_BURST, "the rest hold their slots"
        admission.pace(0.0, 1.0)  # a sample: a few more start
        await asyncio.sleep(0.01)
        assert len(started) == Admission.STARTS_BURST + Admission.STARTS_PER_SAMPLE
        samples = 1
        while len(started) < 40:
            samples += 1
            admission.pace(0.0, 1.0 + (samples - 1) * 0.01)
            await asyncio.sleep(0)
        await asyncio.gather(*charges)
        assert samples == math.ceil((40 - Admission.STARTS_BURST) / Admission.STARTS_PER_SAMPLE)
        assert started == list(range(40))
        assert admission.in_flight == 0

    asyncio.run(burst())


def test_a_charge_still_waiting_to_start_at_its_deadline_is_not_started() -> None:
    admission = Admission(250, 0.05, max_lag=0.020)
    started: list[int] = []

    async def burst() -> list[BaseException | None]:
        return await asyncio.gather(
            *(charge(admission, n, started) for n in range(Admission.STARTS_BURST + 1)),
            return_exceptions=True,
        )

    outcomes = asyncio.run(burst())  # no sample came: the last one never had its turn
    assert started == list(range(Admission.STARTS_BURST))
    late = outcomes[-1]
    assert isinstance(late, ServiceUnavailable) and late.retry_after == 1
    assert admission.in_flight == 0
    admission.pace(0.0, 1.0)
    assert admission._starts == Admission.STARTS_PER_SAMPLE, "the one given up took no turn"


def test_once_as_many_wait_to_start_as_start_in_80_ms_the_next_charge_is_refused() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    started: list[int] = []

    async def burst() -> None:
        room = Admission.STARTS_BURST + Admission.MOST_WAITING
        charges = [asyncio.create_task(charge(admission, n, started)) for n in range(room)]
        await asyncio.sleep(0.01)
        assert admission.waiting == Admission.MOST_WAITING
        assert admission.full, "far below the bound, but the queue to start is full"
        with pytest.raises(ServiceUnavailable):
            await charge(admission, room, started)
        assert room not in started
        admission.pace(0.0, 1.0)  # a sample: a few start, as many may queue again
        await asyncio.sleep(0)
        assert admission.waiting == Admission.MOST_WAITING - Admission.STARTS_PER_SAMPLE
        assert not admission.full
        for n in range(2, 2 + Admission.MOST_WAITING):
            admission.pace(0.0, 1.0 + n * 0.01)
            await asyncio.sleep(0)
        await asyncio.gather(*charges)
        assert admission.waiting == 0 and admission.in_flight == 0

    asyncio.run(burst())


def test_a_late_sample_lets_start_what_the_time_since_the_last_one_allows() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission.pace(0.0, 1.0)
    admission._starts = 0.0  # all taken
    admission.pace(0.0, 1.015)  # a sample 5 ms late: 15 ms worth of starts, not 10
    assert admission._starts == pytest.approx(0.015 * Admission.STARTS_PER_SECOND)
    admission.pace(0.0, 2.0)  # a long pause: no more than a burst at once
    assert admission._starts == Admission.STARTS_BURST


def test_requests_let_in_by_the_door_count_as_admitted_until_they_arrive() -> None:
    admission = Admission(10, 10.0)
    admission.in_flight = 7
    entries = [admission.enter() for _ in range(3)]
    assert admission.full, "7 running and 3 on their way fill a bound of 10"
    entries[0].release()
    entries[0].release()  # once only
    assert admission.entering == 2 and not admission.full

    paced = Admission(250, 10.0, max_lag=0.020)
    let_in = [paced.enter() for _ in range(Admission.STARTS_BURST + Admission.MOST_WAITING - 1)]
    assert not paced.full, "the first of them take the starts free now, the rest would wait"
    let_in.append(paced.enter())
    assert paced.full, "one more would wait longer than answering it now"


def test_admission_takes_its_own_entry_back_before_it_decides() -> None:
    from entrypoints.http.admission import ENTRY

    admission = Admission(1, 10.0)

    async def arrive() -> int:
        ENTRY.set(admission.enter())  # as the door does for the request's task
        assert admission.full, "its own room is held"
        async with admission.admitted("process"):
            return admission.entering + admission.in_flight * 10

    assert asyncio.run(arrive()) == 10, "admitted: in flight, no longer entering"


def test_a_request_let_in_by_the_door_has_its_deadline_from_its_arrival() -> None:
    from entrypoints.http.admission import ENTRY

    admission = Admission(10, 10.0, max_lag=0.020)

    async def arrive(waited: float) -> float:
        entry = admission.enter()
        entry.since -= waited  # it arrived that long ago (its turn to start came late)
        ENTRY.set(entry)
        async with admission.admitted("process") as deadline:
            return deadline.remaining()

    assert 9.0 < asyncio.run(arrive(0.5)) <= 9.5
    with pytest.raises(ServiceUnavailable) as late:
        asyncio.run(arrive(10.5))  # past its deadline before it could start: not started
    assert late.value.retry_after == 1
    assert admission.in_flight == admission.entering == 0


def test_a_request_whose_client_left_while_it_waited_to_start_gives_its_turn_up() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)
    admission._starts = 0.0  # all taken: those let in wait for a sample

    async def wait_at_the_gate() -> tuple[bool, bool, float]:
        gone, staying = admission.enter(), admission.enter()
        waits = [asyncio.create_task(admission.start_turn(e)) for e in (gone, staying)]
        await asyncio.sleep(0)
        gone.release()  # its client left: the door gives its room back
        assert admission.entering == 1 and not waits[0].done()
        admission.pace(0.0, 1.0)  # a sample: 8 starts
        left, stayed = await asyncio.gather(*waits)
        return left, stayed, admission._starts

    left, stayed, starts = asyncio.run(wait_at_the_gate())
    assert (left, stayed) == (False, True), "the one gone is not run, the other starts"
    assert starts == Admission.STARTS_PER_SAMPLE - 1, "only the one staying took a start"


def test_requests_that_had_their_turn_at_the_gate_are_not_counted_as_waiting() -> None:
    admission = Admission(250, 10.0, max_lag=0.020)

    async def let_in(count: int) -> list[asyncio.Task[bool]]:
        entries = [admission.enter() for _ in range(count)]
        waits = [asyncio.create_task(admission.start_turn(e)) for e in entries]
        await asyncio.sleep(0)
        return waits

    async def fill() -> None:
        first = await let_in(Admission.STARTS_BURST + Admission.MOST_WAITING - 16)
        assert sum(t.done() for t in first) == Admission.STARTS_BURST, "the burst started"
        assert not admission.full, "48 wait: room for 16 more"
        more = await let_in(16)
        assert admission.full, "64 wait to start"
        for task in first + more:
            task.cancel()

    asyncio.run(fill())


def test_a_request_let_in_that_had_its_turn_takes_no_second_one_when_its_entry_is_gone() -> None:
    from entrypoints.http.admission import ENTRY

    admission = Admission(250, 10.0, max_lag=0.020)

    async def arrive() -> float:
        entry = admission.enter()
        assert await admission.start_turn(entry)
        admission._starts = 0.0  # no start left: a second turn would wait for a sample
        entry.release()  # its room given back before the handler came to admission
        ENTRY.set(entry)
        async with asyncio.timeout(1), admission.admitted("process"):
            return admission._starts

    assert asyncio.run(arrive()) == 0.0


def test_a_request_let_in_waits_to_start_no_longer_than_its_deadline() -> None:
    from entrypoints.http.admission import ENTRY

    admission = Admission(250, 0.05, max_lag=0.020)
    admission._starts = 0.0  # no sample comes: its turn never does

    async def arrive() -> None:
        entry = admission.enter()
        ENTRY.set(entry)
        async with asyncio.timeout(1):
            assert await admission.start_turn(entry), "it goes on, to be answered late"
        async with admission.admitted("process"):
            raise AssertionError("started after its deadline")

    with pytest.raises(ServiceUnavailable) as late:
        asyncio.run(arrive())
    assert late.value.retry_after == 1
    assert admission.in_flight == admission.entering == 0
    admission.pace(0.0, 1.0)
    assert admission._starts == Admission.STARTS_PER_SAMPLE, "the one given up took no start"

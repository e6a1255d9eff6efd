"""Saves and reads on one event loop are run in groups, each call still getting its own answer."""

import asyncio
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from adapters.awaited_event_store import GROUP_EVENTS, GROUP_READS, GroupInsert, GroupRead
from application.errors import ConcurrencyConflict, StorageError


def events(name: str, count: int = 1) -> list[StoredEvent]:
    return [
        StoredEvent(originator_id=name, originator_version=v, topic="t", state=b"")  # type: ignore[arg-type]
        for v in range(1, count + 1)
    ]


class FakeTable:
    """An events table: ids drawn in order; a version stored twice collides, and nothing of
    that call is kept."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.rows: dict[tuple[str, int], int] = {}
        self.calls: list[int] = []  # events per call
        self.fail_with = fail_with
        self.gate = asyncio.Event()
        self.gate.set()

    async def insert(self, stored: list[StoredEvent]) -> list[int]:
        self.calls.append(len(stored))
        await self.gate.wait()
        await asyncio.sleep(0)
        if self.fail_with is not None:
            raise self.fail_with
        keys = [(str(e.originator_id), e.originator_version) for e in stored]
        if any(key in self.rows for key in keys) or len(set(keys)) < len(keys):
            raise ConcurrencyConflict("changed by another request")
        ids = []
        for key in keys:
            self.rows[key] = len(self.rows) + 1
            ids.append(self.rows[key])
        return ids


def test_saves_that_wait_together_are_one_insert_each_answered_with_its_own_ids() -> None:
    table = FakeTable()

    async def scenario() -> list[list[int]]:
        group = GroupInsert(table.insert)
        table.gate.clear()
        first = asyncio.ensure_future(group.submit(events("a")))
        await asyncio.sleep(0.01)  # "a" is being inserted; the others wait for it
        rest = [asyncio.ensure_future(group.submit(events(n, 2))) for n in "bcd"]
        await asyncio.sleep(0.01)
        table.gate.set()
        return [await first, *[await r for r in rest]]

    answers = asyncio.run(scenario())
    assert table.calls == [1, 6]  # "a" alone, then b, c and d in one call
    assert answers == [[1], [2, 3], [4, 5], [6, 7]]
    assert table.rows[("c", 2)] == 5


def test_a_group_is_at_most_the_cap_of_events() -> None:
    table = FakeTable()

    async def scenario() -> None:
        group = GroupInsert(table.insert)
        table.gate.clear()
        waiting = [asyncio.ensure_future(group.submit(events(f"s{n}", 3))) for n in range(30)]
        await asyncio.sleep(0.01)
        table.gate.set()
        await asyncio.gather(*waiting)

    asyncio.run(scenario())
    assert sum(table.calls) == 90 and len(table.rows) == 90
    assert max(table.calls) <= GROUP_EVENTS
    assert len(table.calls) < 10  # grouped, not one call a save


def test_only_the_save_that_collided_is_a_conflict() -> None:
    table = FakeTable()
    table.rows[("taken", 1)] = 99

    async def scenario() -> list[Any]:
        group = GroupInsert(table.insert)
        table.gate.clear()
        saves = [group.submit(events(name)) for name in ("x", "y", "taken", "z")]
        waiting = [asyncio.ensure_future(s) for s in saves]
        await asyncio.sleep(0.01)
        table.gate.set()
        return await asyncio.gather(*waiting, return_exceptions=True)

    x, y, taken, z = asyncio.run(scenario())
    assert isinstance(taken, ConcurrencyConflict)
    assert all(isinstance(answer, list) for answer in (x, y, z))
    assert {key[0] for key in table.rows} == {"x", "y", "taken", "z"}
    assert table.rows[("taken", 1)] == 99  # the other writer's event, untouched


def test_a_failed_insert_fails_every_save_of_its_group_and_the_next_saves_go_ahead() -> None:
    table = FakeTable(fail_with=StorageError("the event store is unavailable"))

    async def scenario() -> tuple[list[Any], list[int]]:
        group = GroupInsert(table.insert)
        failed = await asyncio.gather(
            *(group.submit(events(n)) for n in "abc"), return_exceptions=True
        )
        table.fail_with = None
        return failed, await group.submit(events("d"))

    failed, later = asyncio.run(scenario())
    assert all(isinstance(answer, StorageError) for answer in failed)
    assert len({id(answer) for answer in failed}) == 3  # each caller raises its own
    assert later == [1] and list(table.rows) == [("d", 1)]


def test_a_save_given_up_before_it_is_taken_is_not_inserted() -> None:
    table = FakeTable()

    async def scenario() -> None:
        group = GroupInsert(table.insert)
        table.gate.clear()
        first = asyncio.ensure_future(group.submit(events("a")))
        await asyncio.sleep(0.01)
        given_up = asyncio.ensure_future(group.submit(events("gone")))
        kept = asyncio.ensure_future(group.submit(events("kept")))
        await asyncio.sleep(0.01)
        given_up.cancel()
        table.gate.set()
        await first
        await kept
        with pytest.raises(asyncio.CancelledError):
            await given_up

    asyncio.run(scenario())
    assert set(table.rows) == {("a", 1), ("kept", 1)}


def test_a_worker_that_stops_waits_for_the_saves_in_hand() -> None:
    table = FakeTable()

    async def scenario() -> list[int]:
        group = GroupInsert(table.insert)
        table.gate.clear()
        waiting = asyncio.ensure_future(group.submit(events("a")))
        await asyncio.sleep(0.01)
        asyncio.get_running_loop().call_later(0.02, table.gate.set)
        await group.drain()
        assert waiting.done()
        return await waiting

    assert asyncio.run(scenario()) == [1]
    assert ("a", 1) in table.rows


class FakeEvents:
    """Rows of an events table by aggregate; each read is one query."""

    def __init__(self) -> None:
        self.rows = [
            {"originator_id": UUID(int=a), "originator_version": v}
            for a in range(1, 100)
            for v in (1, 2)
        ]
        self.queries: list[list[UUID]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def read(self, ids: list[UUID]) -> list[Any]:
        self.queries.append(ids)
        await self.gate.wait()
        return [row for row in self.rows if row["originator_id"] in ids]


def test_reads_that_wait_together_are_one_query_each_answered_with_its_own_rows() -> None:
    table = FakeEvents()

    async def scenario() -> list[list[Any]]:
        group = GroupRead(table.read)
        table.gate.clear()
        first = asyncio.ensure_future(group.submit(UUID(int=1)))
        await asyncio.sleep(0.01)
        ids = [UUID(int=n) for n in (2, 3, 2, 500)]  # one asked twice, one not there
        rest = [asyncio.ensure_future(group.submit(i)) for i in ids]
        await asyncio.sleep(0.01)
        table.gate.set()
        return [await first, *[await r for r in rest]]

    first, two, three, two_again, missing = asyncio.run(scenario())
    assert len(table.queries) == 2 and sorted(table.queries[1]) == [
        UUID(int=n) for n in (2, 3, 500)
    ]
    assert [row["originator_version"] for row in first] == [1, 2]
    assert {row["originator_id"] for row in two} == {UUID(int=2)} and two == two_again
    assert {row["originator_id"] for row in three} == {UUID(int=3)}
    assert missing == []


def test_a_read_group_is_at_most_the_cap_and_a_failed_query_fails_each_of_its_reads() -> None:
    table = FakeEvents()

    async def scenario() -> list[Any]:
        group = GroupRead(table.read)
        table.gate.clear()
        waiting = [asyncio.ensure_future(group.submit(UUID(int=n % 99 + 1))) for n in range(200)]
        await asyncio.sleep(0.01)
        table.gate.set()
        await asyncio.gather(*waiting)

        async def broken(ids: list[UUID]) -> list[Any]:
            raise StorageError("the event store is unavailable")

        failing = GroupRead(broken)
        return await asyncio.gather(
            *(failing.submit(UUID(int=n)) for n in range(3)), return_exceptions=True
        )

    failed = asyncio.run(scenario())
    assert max(len(ids) for ids in table.queries) <= GROUP_READS
    assert 200 // GROUP_READS <= len(table.queries) < 10
    assert all(isinstance(answer, StorageError) for answer in failed)


class NeedsKeyword(Exception):
    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


def test_a_failure_that_cannot_be_made_again_still_reaches_every_caller() -> None:
    table = FakeTable(fail_with=NeedsKeyword("refused", code=7))

    async def scenario() -> list[Any]:
        group = GroupInsert(table.insert)
        return await asyncio.wait_for(
            asyncio.gather(*(group.submit(events(n)) for n in "abc"), return_exceptions=True),
            timeout=5,
        )

    failed = asyncio.run(scenario())
    assert all(isinstance(answer, NeedsKeyword) and answer.code == 7 for answer in failed)


def test_a_runner_cancelled_before_it_ran_is_replaced() -> None:
    table = FakeTable()

    async def scenario() -> list[int]:
        group = GroupInsert(table.insert)
        given_up = asyncio.ensure_future(group.submit(events("a")))
        await asyncio.sleep(0)  # the caller waits; its runner is made but has not run
        assert group._task is not None
        group._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await given_up
        later = await asyncio.wait_for(group.submit(events("b")), timeout=5)
        await group.drain()
        return later

    assert asyncio.run(scenario()) == [1]
    assert list(table.rows) == [("b", 1)]

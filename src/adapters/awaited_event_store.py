"""The event store's reads and saves awaited on the event loop (PostgreSQL only).

The library's persistence is synchronous, so each of its calls runs in a worker thread, and
under load every hand-off waits milliseconds for the interpreter lock while the event loop
holds it. Here an aggregate is read, and a save's events inserted, over psycopg's asyncio
connections (a pool for each event loop), with the recorder's statements: a prepared select
of aggregates' events by originator, and the one-trip insert function of
`OneTripApplicationRecorder`, which takes the library's table lock, so notification order is
still commit order. Mapping, encryption
and the aggregates' projection are the library's (the application's mapper and projector).

Failures keep the synchronous path's rules: no connection within the connect timeout is
reported at once as `StorageError` and, for `RECHECK_SECONDS`, later calls fail without waiting;
a connection lost mid-call is retried (a save that did commit then collides with itself, which
the use cases answer by reading again); a call with no answer within the connection wait, the
lock timeout and a second is abandoned as `StorageError` (the pool drops that connection); a
version taken by another writer is a `ConcurrencyConflict`.

Saves are committed in groups. Every commit of the events table holds its table lock while
PostgreSQL flushes the commit to disk, so commits cannot share a flush and each costs a
transaction, a flush and a wait in the lock's queue. On each event loop one task inserts: the
saves that arrive while it inserts are inserted together by its next call, each save's events
still atomic (the group's are one transaction). When a group collides with another writer, its
saves are inserted again one by one, so that only the save that collided is a conflict.
Reads are grouped the same way: the aggregates asked for while a read runs are read by the next
one, in one query.
"""

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

import psycopg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from adapters.database_fail_fast import LIBPQ_CONNECT_TIMEOUT, RECHECK_SECONDS
from adapters.event_recorder import OneTripApplicationRecorder, stored_event
from adapters.eventstore import PaymentsApplication
from application.errors import ConcurrencyConflict, StorageError
from domain.customer_link import CustomerLink, customer_link_id
from domain.payment import Payment
from domain.stripe_events import (
    PaymentIntentLink,
    StripeEventReceipt,
    intent_link_id_for,
    receipt_id_for,
)
from domain.wallet import Wallet, wallet_id_for

A = TypeVar("A", bound=Aggregate)
In = TypeVar("In")
Out = TypeVar("Out")
G = TypeVar("G", bound="Grouped[Any, Any]")
# Per event loop. Calls are grouped (one read and one insert at a time), so few are busy; the
# rest are room for a connection being replaced after a loss.
CONNECTIONS = 20
ATTEMPTS = 3  # a call on a connection that was lost is tried this many times in all
RETRY_WAIT = 0.1
GROUP_EVENTS = 32  # at most this many events in one insert (one prepared call per count)
GROUP_READS = 64  # at most this many aggregates in one read
Connection = psycopg.AsyncConnection[DictRow]


class AwaitedEventStore:
    """Aggregates read and saved without a thread, on the application's PostgreSQL tables."""

    def __init__(
        self,
        app: PaymentsApplication,
        recorder: OneTripApplicationRecorder,
        *,
        connections: int = CONNECTIONS,
        recheck: float = RECHECK_SECONDS,
    ) -> None:
        self.app = app
        self.recorder = recorder
        kwargs = recorder.datastore.pool.kwargs
        self._kwargs = {
            **(kwargs if isinstance(kwargs, dict) else {}),
            "row_factory": dict_row,
            "autocommit": True,
            "connect_timeout": LIBPQ_CONNECT_TIMEOUT,
        }
        self._timeout = float(recorder.datastore.pool.timeout)
        # A call may wait for the table lock (its lock timeout) after waiting for a connection.
        self._call_timeout = self._timeout + recorder.datastore.lock_timeout + 1
        self._connections = connections
        self._recheck = recheck
        self._failed_at = -float("inf")
        self._pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool[Connection]] = {}
        self._inserts: dict[asyncio.AbstractEventLoop, GroupInsert] = {}
        self._reads: dict[asyncio.AbstractEventLoop, GroupRead] = {}

    @classmethod
    def of(cls, app: PaymentsApplication) -> "AwaitedEventStore | None":
        """One for an application on PostgreSQL that keeps no cache or snapshots, else None."""
        recorder = app.recorder
        if not isinstance(recorder, OneTripApplicationRecorder):
            return None
        if app.repository.cache is not None or app.snapshots is not None:
            return None
        return cls(app, recorder)

    async def get(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        rows = await self._grouped(self._reads, GroupRead, self._read).submit(aggregate_id)
        aggregate: Any = None
        for row in rows:  # as the library's project_aggregate, less its runtime protocol check
            event = self.app.mapper.to_domain_event(stored_event(row))
            aggregate = cast(Any, event).mutate(aggregate)
        return aggregate if isinstance(aggregate, kind) else None

    async def save(self, *aggregates: Aggregate) -> int | None:
        """The aggregates' new events in one transaction; the last notification id."""
        # As the library's ProcessingEvent collects them, less its runtime protocol checks.
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        stored = [self.app.mapper.to_stored_event(event) for event in events]
        if not stored:
            return None
        return max(await self._grouped(self._inserts, GroupInsert, self._insert).submit(stored))

    async def _insert(self, stored: list[StoredEvent]) -> list[int]:
        """Insert the events in one transaction; their notification ids, in order."""
        statement, params = self.recorder.insert_call_for(stored)
        rows = await self._call(lambda conn: conn.execute(statement, params, prepare=True))
        return sorted(row[self.recorder.insert_function] for row in rows)

    async def _read(self, aggregate_ids: list[UUID]) -> list[DictRow]:
        """The events of these aggregates, by aggregate and version."""
        return await self._call(
            lambda conn: conn.execute(
                self.recorder.select_aggregates_statement, (aggregate_ids,), prepare=True
            )
        )

    def _grouped(
        self, by_loop: dict[asyncio.AbstractEventLoop, G], kind: Callable[[Any], G], run: Any
    ) -> G:
        loop = asyncio.get_running_loop()
        grouped = by_loop.get(loop)
        if grouped is None:
            _forget_ended_loops(by_loop)
            grouped = by_loop[loop] = kind(run)
        return grouped

    async def _call(
        self, execute: Callable[[Connection], Awaitable[psycopg.AsyncCursor[DictRow]]]
    ) -> list[DictRow]:
        pool = await self._pool()
        for attempt in range(1, ATTEMPTS + 1):
            if time.monotonic() - self._failed_at < self._recheck:
                raise StorageError("the event store is unavailable: PostgreSQL did not answer")
            try:
                async with asyncio.timeout(self._call_timeout):
                    async with pool.connection(timeout=self._timeout) as conn:
                        cursor = await execute(conn)
                        return await cursor.fetchall()
            except psycopg.IntegrityError:
                raise ConcurrencyConflict("changed by another request") from None
            except TimeoutError as error:  # a server that stopped answering mid-call
                self._failed_at = time.monotonic()  # the next calls fail at once
                raise StorageError("the event store did not answer") from error
            except PoolTimeout as error:
                self._failed_at = time.monotonic()
                raise StorageError("the event store is unavailable") from error
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                if attempt == ATTEMPTS:
                    raise StorageError("the event store is unavailable") from error
                await asyncio.sleep(RETRY_WAIT)  # the pool has dropped the lost connection
        raise AssertionError("unreachable")

    async def _pool(self) -> AsyncConnectionPool[Connection]:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            _forget_ended_loops(self._pools)
            pool = self._pools[loop] = AsyncConnectionPool(
                kwargs=self._kwargs,
                connection_class=psycopg.AsyncConnection[DictRow],
                min_size=1,
                max_size=self._connections,
                timeout=self._timeout,
                open=False,
                name="awaited-event-store",
            )
            await pool.open(wait=False)
        return pool

    async def aclose(self) -> None:
        """Close the running event loop's connections (a worker's, as it stops)."""
        loop = asyncio.get_running_loop()
        for by_loop in (self._reads, self._inserts):
            grouped = by_loop.get(loop)
            if grouped is not None:
                await grouped.drain()
        for by_loop in (self._reads, self._inserts):
            by_loop.pop(loop, None)
        pool = self._pools.pop(loop, None)
        if pool is not None:
            await pool.close()


class Grouped(Generic[In, Out]):
    """Calls on one event loop, run by one task at a time: those that wait meanwhile are run
    together by its next turn (up to `cap`, each call counting `_size` towards it)."""

    cap = 1

    def __init__(self) -> None:
        self._waiting: deque[tuple[In, asyncio.Future[Out]]] = deque()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: In) -> Out:
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._start()
        # A caller that stops waiting before its call is taken leaves it out; once taken,
        # the call goes ahead, as one already sent to PostgreSQL does.
        return await future

    async def drain(self) -> None:
        """Wait until what is waiting has been run (a worker that stops)."""
        while self._waiting or (self._task is not None and not self._task.done()):
            await asyncio.wait({self._start()})

    def _start(self) -> "asyncio.Task[None]":
        """The task that runs what waits, started unless it runs (done: cancelled before it
        ran)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
            self._task.add_done_callback(self._ended)
        return self._task

    def _ended(self, task: "asyncio.Task[None]") -> None:
        if task.cancelled() and self._task in (None, task):
            # the loop is ending (even before the task ran): nothing more is run
            while self._waiting:
                self._waiting.popleft()[1].cancel()

    def _size(self, item: In) -> int:
        return 1

    async def _run_group(self, group: list[tuple[In, "asyncio.Future[Out]"]]) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        try:
            while self._waiting:
                group = self._take()
                if group:
                    try:
                        await self._run_group(group)
                    except BaseException as error:  # each caller gets the group's failure
                        for _, future in group:
                            _fail(future, error)
                        if not isinstance(error, Exception):
                            raise
        finally:
            self._task = None

    def _take(self) -> list[tuple[In, "asyncio.Future[Out]"]]:
        group: list[tuple[In, asyncio.Future[Out]]] = []
        size = 0
        while self._waiting:
            item, future = self._waiting[0]
            if group and size + self._size(item) > self.cap:
                break
            self._waiting.popleft()
            if not future.done():  # not given up by its caller
                group.append((item, future))
                size += self._size(item)
        return group


class GroupInsert(Grouped[list[StoredEvent], list[int]]):
    """One event loop's saves: each save's events (atomically) in, its notification ids out,
    in order. The saves of a group are one insert; when it collides, each is inserted alone."""

    cap = GROUP_EVENTS

    def __init__(self, insert: Callable[[list[StoredEvent]], Awaitable[list[int]]]) -> None:
        super().__init__()
        self._insert = insert

    def _size(self, item: list[StoredEvent]) -> int:
        return len(item)

    async def _run_group(
        self, group: list[tuple[list[StoredEvent], "asyncio.Future[list[int]]"]]
    ) -> None:
        try:
            ids = await self._insert([event for stored, _ in group for event in stored])
        except ConcurrencyConflict as conflict:
            if len(group) == 1:
                _fail(group[0][1], conflict)
            else:  # which save collided: each alone
                for one in group:
                    await self._run_group([one])
            return
        start = 0
        for stored, future in group:
            if not future.done():
                future.set_result(ids[start : start + len(stored)])
            start += len(stored)


class GroupRead(Grouped[UUID, list[DictRow]]):
    """One event loop's reads of aggregates: an id in, its rows out; a group's ids are one
    query."""

    cap = GROUP_READS

    def __init__(self, read: Callable[[list[UUID]], Awaitable[list[DictRow]]]) -> None:
        super().__init__()
        self._read = read

    async def _run_group(self, group: list[tuple[UUID, "asyncio.Future[list[DictRow]]"]]) -> None:
        rows = await self._read(list({aggregate_id for aggregate_id, _ in group}))
        by_id: dict[UUID, list[DictRow]] = {}
        for row in rows:  # ordered by originator, then version
            by_id.setdefault(row["originator_id"], []).append(row)
        for aggregate_id, future in group:
            if not future.done():
                future.set_result(by_id.get(aggregate_id, []))


def _forget_ended_loops(by_loop: dict[asyncio.AbstractEventLoop, Any]) -> None:
    """Drop what belonged to event loops that have ended (tests start several)."""
    for closed in [loop for loop in by_loop if loop.is_closed()]:
        del by_loop[closed]


def _fail(future: "asyncio.Future[Any]", error: BaseException) -> None:
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    else:  # each caller raises its own exception, the group's as its cause
        try:
            own = type(error)(*error.args)
        except Exception:  # an exception that cannot be made again from its arguments
            future.set_exception(error)
            return
        own.__cause__ = error.__cause__ or error
        future.set_exception(own)


class AwaitedPaymentStore:
    """AwaitablePaymentStore on the awaited event store."""

    def __init__(self, events: AwaitedEventStore) -> None:
        self.events = events

    async def find(self, payment_id: UUID) -> Payment | None:
        return await self.events.get(payment_id, Payment)

    async def save(self, *aggregates: Aggregate) -> int | None:
        return await self.events.save(*aggregates)

    async def find_receipt(self, event_id: str) -> StripeEventReceipt | None:
        return await self.events.get(receipt_id_for(event_id), StripeEventReceipt)

    async def payment_for_intent(self, intent_id: str) -> UUID | None:
        link = await self.events.get(intent_link_id_for(intent_id), PaymentIntentLink)
        return link.payment_id if link else None


class AwaitedWalletStore:
    """AwaitableWalletStore on the awaited event store."""

    def __init__(self, events: AwaitedEventStore) -> None:
        self.events = events

    async def find(self, user_id: str) -> Wallet | None:
        return await self.events.get(wallet_id_for(user_id), Wallet)

    async def find_by_customer(self, customer_id: str) -> Wallet | None:
        link = await self.events.get(customer_link_id(customer_id), CustomerLink)
        return await self.find(link.user_id) if link else None

    async def save(self, wallet: Wallet, *others: Aggregate) -> None:
        await self.events.save(wallet, *others)

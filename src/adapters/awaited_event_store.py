"""The event store's reads and saves awaited on the event loop (PostgreSQL only).

The library's persistence is synchronous, so each of its calls runs in a worker thread, and
under load every hand-off waits milliseconds for the interpreter lock while the event loop
holds it. Here an aggregate is read, and a save's events inserted, over psycopg's asyncio
connections (a pool for each event loop), with the library's own statements: the prepared
select by originator, and the one-trip insert function of `OneTripApplicationRecorder`, which
takes the same table lock, so notification order is still commit order. Mapping, encryption
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
"""

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast
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
T = TypeVar("T")
CONNECTIONS = 20  # per event loop: enough for a worker's charges in flight to rarely wait
ATTEMPTS = 3  # a call on a connection that was lost is tried this many times in all
RETRY_WAIT = 0.1
GROUP_EVENTS = 32  # at most this many events in one insert (one prepared call per count)
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
        self._groups: dict[asyncio.AbstractEventLoop, GroupInsert] = {}

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
        rows = await self._call(
            lambda conn: conn.execute(
                self.recorder.select_aggregate_statement, (aggregate_id,), prepare=True
            )
        )
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
        return max(await self._group().insert(stored))

    async def _insert(self, stored: list[StoredEvent]) -> list[int]:
        """Insert the events in one transaction; their notification ids, in order."""
        statement, params = self.recorder.insert_call_for(stored)
        rows = await self._call(lambda conn: conn.execute(statement, params, prepare=True))
        return sorted(row[self.recorder.insert_function] for row in rows)

    def _group(self) -> "GroupInsert":
        loop = asyncio.get_running_loop()
        group = self._groups.get(loop)
        if group is None:
            for closed in [other for other in self._groups if other.is_closed()]:
                del self._groups[closed]
            group = self._groups[loop] = GroupInsert(self._insert)
        return group

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
            for closed in [other for other in self._pools if other.is_closed()]:
                del self._pools[closed]  # a loop that ended (tests start several)
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
        group = self._groups.pop(loop, None)
        if group is not None:
            await group.drain()
        pool = self._pools.pop(loop, None)
        if pool is not None:
            await pool.close()


Waiting = tuple[list[StoredEvent], "asyncio.Future[list[int]]"]


class GroupInsert:
    """One event loop's saves, inserted by one task at a time, those waiting together."""

    def __init__(self, insert: Callable[[list[StoredEvent]], Awaitable[list[int]]]) -> None:
        self._insert = insert
        self._waiting: deque[Waiting] = deque()
        self._task: asyncio.Task[None] | None = None

    async def insert(self, stored: list[StoredEvent]) -> list[int]:
        """Insert one save's events (atomically); their notification ids, in order."""
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._waiting.append((stored, future))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        # A caller that stops waiting before its save is taken leaves it out; once taken,
        # the save goes ahead, as one already sent to PostgreSQL does.
        return await future

    async def drain(self) -> None:
        """Wait until what is waiting has been inserted (a worker that stops)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while self._waiting:
                group = self._take()
                if group:
                    await self._insert_group(group)
        except asyncio.CancelledError:  # the loop is ending: nothing more is inserted
            while self._waiting:
                self._waiting.popleft()[1].cancel()
            raise
        finally:
            self._task = None

    def _take(self) -> list[Waiting]:
        group: list[Waiting] = []
        events = 0
        while self._waiting:
            stored, future = self._waiting[0]
            if group and events + len(stored) > GROUP_EVENTS:
                break
            self._waiting.popleft()
            if not future.done():  # not given up by its caller
                group.append((stored, future))
                events += len(stored)
        return group

    async def _insert_group(self, group: list[Waiting]) -> None:
        try:
            ids = await self._insert([event for stored, _ in group for event in stored])
        except ConcurrencyConflict as conflict:
            if len(group) == 1:
                _fail(group[0][1], conflict)
            else:  # which save collided: each alone
                for one in group:
                    await self._insert_group([one])
        except BaseException as error:  # each caller gets the group's failure
            for _, future in group:
                _fail(future, error)
            if not isinstance(error, Exception):
                raise
        else:
            start = 0
            for stored, future in group:
                if not future.done():
                    future.set_result(ids[start : start + len(stored)])
                start += len(stored)


def _fail(future: "asyncio.Future[list[int]]", error: BaseException) -> None:
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    else:  # each caller raises its own exception, the group's as its cause
        own = type(error)(*error.args) if isinstance(error, Exception) else error
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

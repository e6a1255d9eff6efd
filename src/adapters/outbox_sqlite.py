"""The outbox in SQLite, in its own file: one dispatching process (a file lock) at a time."""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from adapters import outbox_sql as sql
from adapters.outbox_view import OutboxView, delivery_of, moment, row_of, stamp
from application.outbound_events import Delivery, Moved, OutboxEntry, OutboxHealth, OutboxRow
from application.outbox_ports import Outcome


class _Claim:
    def __init__(self, outbox: "SQLiteOutbox", delivery: Delivery) -> None:
        self.outbox = outbox
        self.delivery = delivery

    def settle(self, outcome: Outcome) -> None:
        at = stamp(outcome.attempted_at)
        then = stamp(outcome.next_attempt_at) if outcome.next_attempt_at else None
        done = at if outcome.status == "delivered" else None
        key = (str(self.delivery.entry.event_id), self.delivery.endpoint)
        with self.outbox.datastore.transaction(commit=True) as c:
            c.execute(sql.settle("?"), (outcome.status, at, at, then, outcome.error, done, *key))


class SQLiteOutbox(SQLiteTrackingRecorder, OutboxView):
    """Rows in flight in this process are skipped by its other dispatching threads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS event_outbox (event_id TEXT NOT NULL, "
            "endpoint TEXT NOT NULL, type TEXT NOT NULL, payment_id TEXT NOT NULL, "
            "sequence INTEGER NOT NULL, refund_number INTEGER, position INTEGER NOT NULL, "
            "occurred_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', "
            "attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, "
            "first_attempt_at TEXT, last_attempt_at TEXT, last_error TEXT, delivered_at TEXT, "
            "PRIMARY KEY (event_id, endpoint))",
            "CREATE INDEX IF NOT EXISTS event_outbox_due ON event_outbox (status, next_attempt_at)",
            "CREATE INDEX IF NOT EXISTS event_outbox_chain "
            "ON event_outbox (endpoint, payment_id, sequence)",
        ]

    def add(
        self, entries: Sequence[OutboxEntry], endpoints: Sequence[str], tracking: Tracking
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                sql.insert("?"),
                [
                    (
                        str(e.event_id), endpoint, e.type, str(e.payment_id), e.sequence,
                        e.refund_number, e.position, stamp(e.occurred_at), stamp(e.occurred_at),
                    )
                    for e in entries
                    for endpoint in endpoints
                ],
            )  # fmt: skip
            self._insert_tracking(c, tracking)

    @contextmanager
    def claim(self, endpoints: Sequence[str], now: datetime) -> Iterator[_Claim | None]:
        with self._busy_lock:
            busy = sorted(self._busy)
            with self.datastore.transaction(commit=False) as c:
                c.execute(sql.due(endpoints, "?", busy=len(busy)), (stamp(now), *endpoints, *busy))
                record = c.fetchone()
            if record is None:
                key = None
            else:
                key = f"{record['event_id']}|{record['endpoint']}"
                self._busy.add(key)
        if record is None or key is None:
            yield None
            return
        try:
            yield _Claim(self, delivery_of(record))
        finally:
            with self._busy_lock:
                self._busy.discard(key)

    def rows(self, *, parked_only: bool, limit: int) -> list[OutboxRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql.listing("?", parked_only=parked_only), (limit,))
            return [row_of(r) for r in c.fetchall()]

    def redeliver(self, *, event_id: UUID | None, since: datetime | None, now: datetime) -> int:
        which = str(event_id) if event_id is not None else stamp(since or now)
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql.redeliver("?", by_id=event_id is not None), (stamp(now), which))
            return int(c.sqlite_cursor.rowcount)

    def health(self, endpoints: Sequence[str], now: datetime) -> OutboxHealth:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql.PARKED)
            parked = int(c.fetchone()["parked"])
            c.execute(sql.oldest_waiting(endpoints, "?"), tuple(endpoints))
            oldest = c.fetchone()["oldest"]
            c.execute(sql.stranded(endpoints, "?"), tuple(endpoints))
            stranded = int(c.fetchone()["stranded"])
        lag = (now - moment(oldest)).total_seconds() if oldest else 0.0
        return OutboxHealth(lag_seconds=max(lag, 0.0), parked=parked, stranded=stranded)

    def move(self, old: str, new: str, now: datetime) -> Moved:
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql.late("?"), (old, new, new))
            late = int(c.fetchone()["late"])
            c.execute(sql.move("?"), (new, stamp(now), old, new))
            moved = int(c.sqlite_cursor.rowcount)
            c.execute(sql.drop_copies("?"), (old, new))
            return Moved(moved=moved, dropped=int(c.sqlite_cursor.rowcount), late=late)

"""The outbox in PostgreSQL (tables from migrations/): dispatchers in many processes at once.

A claimed row stays locked (`FOR UPDATE SKIP LOCKED`) in the transaction that records its
outcome, so no two dispatchers ever send one row at the same time, and a dispatcher that dies
mid-send gives the row back when its connection closes.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

from adapters import outbox_sql as sql
from adapters.outbox_view import OutboxView, delivery_of, row_of
from application.outbound_events import Delivery, Moved, OutboxEntry, OutboxHealth, OutboxRow
from application.outbox_ports import Outcome


class _Claim:
    def __init__(self, cursor: Any, delivery: Delivery) -> None:
        self.cursor = cursor
        self.delivery = delivery

    def settle(self, outcome: Outcome) -> None:
        at = outcome.attempted_at
        done = at if outcome.status == "delivered" else None
        key = (self.delivery.entry.event_id, self.delivery.endpoint)
        self.cursor.execute(
            sql.settle("%s"),
            (outcome.status, at, at, outcome.next_attempt_at, outcome.error, done, *key),
        )


class PostgresOutbox(PostgresTrackingRecorder, OutboxView):
    def add(
        self, entries: Sequence[OutboxEntry], endpoints: Sequence[str], tracking: Tracking
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                sql.insert("%s"),
                [
                    (
                        e.event_id, endpoint, e.type, e.payment_id, e.sequence, e.refund_number,
                        e.position, e.occurred_at, e.occurred_at,
                    )
                    for e in entries
                    for endpoint in endpoints
                ],
            )  # fmt: skip
            self._insert_tracking(c, tracking)

    @contextmanager
    def claim(self, endpoints: Sequence[str], now: datetime) -> Iterator[_Claim | None]:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                sql.due(endpoints, "%s").replace(
                    " LIMIT 1", " LIMIT 1 FOR UPDATE OF o SKIP LOCKED"
                ),
                (now, *endpoints),
            )
            record = c.fetchone()
            yield None if record is None else _Claim(c, delivery_of(record))

    def rows(self, *, parked_only: bool, limit: int) -> list[OutboxRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql.listing("%s", parked_only=parked_only), (limit,))
            return [row_of(r) for r in c.fetchall()]

    def redeliver(self, *, event_id: UUID | None, since: datetime | None, now: datetime) -> int:
        which: object = event_id if event_id is not None else (since or now)
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql.redeliver("%s", by_id=event_id is not None), (now, which))
            return int(c.rowcount)

    def health(self, endpoints: Sequence[str], now: datetime) -> OutboxHealth:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql.PARKED)
            parked = int(c.fetchone()["parked"])  # type: ignore[index]
            c.execute(sql.oldest_waiting(endpoints, "%s"), tuple(endpoints))
            oldest = c.fetchone()["oldest"]  # type: ignore[index]
            c.execute(sql.stranded(endpoints, "%s"), tuple(endpoints))
            stranded = int(c.fetchone()["stranded"])  # type: ignore[index]
        lag = (now - oldest).total_seconds() if oldest else 0.0
        return OutboxHealth(lag_seconds=max(lag, 0.0), parked=parked, stranded=stranded)

    def move(self, old: str, new: str, now: datetime) -> Moved:
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql.late("%s"), (old, new, new))
            late = int(c.fetchone()["late"])  # type: ignore[index]
            c.execute(sql.move("%s"), (new, now, old, new))
            moved = int(c.rowcount)
            c.execute(sql.drop_copies("%s"), (old, new))
            return Moved(moved=moved, dropped=int(c.rowcount), late=late)

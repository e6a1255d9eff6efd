"""The transactional outbox: rows written with the projection's tracking position."""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking, TrackingRecorder

from application.outbound_events import (
    OUTBOUND_TOPICS,
    Delivery,
    Moved,
    OutboxEntry,
    OutboxHealth,
    OutboxRow,
    entry_for,
)
from application.outbox_ports import Claim

COLUMNS = (
    "event_id, endpoint, type, payment_id, sequence, refund_number, position, occurred_at, "
    "status, attempts, next_attempt_at, first_attempt_at, last_error"
)


class OutboxView(TrackingRecorder, ABC):
    """One row per outbound event and endpoint, and the tracking of the log they came from."""

    @abstractmethod
    def add(
        self, entries: Sequence[OutboxEntry], endpoints: Sequence[str], tracking: Tracking
    ) -> None:
        """Insert a row per entry and endpoint (once), and the tracking: one transaction."""

    @abstractmethod
    def claim(
        self, endpoints: Sequence[str], now: datetime
    ) -> AbstractContextManager[Claim | None]: ...

    @abstractmethod
    def rows(self, *, parked_only: bool, limit: int) -> list[OutboxRow]: ...

    @abstractmethod
    def redeliver(self, *, event_id: UUID | None, since: datetime | None, now: datetime) -> int: ...

    @abstractmethod
    def health(self, endpoints: Sequence[str], now: datetime) -> OutboxHealth: ...

    @abstractmethod
    def move(self, old: str, new: str, now: datetime) -> Moved: ...


def entry_of(record: Any) -> OutboxEntry:
    return OutboxEntry(
        event_id=UUID(str(record["event_id"])),
        type=record["type"],
        payment_id=UUID(str(record["payment_id"])),
        sequence=record["sequence"],
        refund_number=record["refund_number"],
        position=record["position"],
        occurred_at=moment(record["occurred_at"]),
    )


def delivery_of(record: Any) -> Delivery:
    first = record["first_attempt_at"]
    return Delivery(
        entry=entry_of(record),
        endpoint=record["endpoint"],
        attempts=record["attempts"],
        first_attempt_at=moment(first) if first else None,
    )


def row_of(record: Any) -> OutboxRow:
    return OutboxRow(
        entry=entry_of(record),
        endpoint=record["endpoint"],
        status=record["status"],
        attempts=record["attempts"],
        next_attempt_at=moment(record["next_attempt_at"]),
        last_error=record["last_error"],
    )


def moment(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def stamp(value: datetime) -> str:
    """SQLite keeps times as text that sorts like the times it holds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class OutboundEventsFollower:
    """Fills the outbox from the log: each announced event, once per endpoint."""

    name = "outbound-events"

    def __init__(self, app: Application[Any], view: OutboxView, endpoints: Sequence[str]) -> None:
        self.app = app
        self.view = view
        self.endpoints = tuple(endpoints)

    def position(self) -> int:
        return self.view.max_tracking_id(self.app.name) or 0

    def follow(self, notifications: Sequence[Notification]) -> None:
        if not notifications:
            return
        entries = [
            entry_for(self.app.mapper.to_domain_event(stored), stored.id)
            for stored in notifications
            if stored.topic in OUTBOUND_TOPICS
        ]
        self.view.add(
            [e for e in entries if e is not None],
            self.endpoints,
            Tracking(self.app.name, notifications[-1].id),
        )

    def clear(self) -> None:
        raise NotImplementedError(
            "outbound events are not rebuilt (that would announce every event again); "
            "use `payment-service events redeliver`"
        )

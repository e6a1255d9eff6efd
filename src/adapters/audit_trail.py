"""The audit trail read straight from the event store, decrypted by its mapper."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from adapters.eventstore import PaymentsApplication
from application.ports import AuditEntry

PAGE = 500
_BOOKKEEPING = ("originator_id", "originator_version", "originator_topic", "timestamp")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, UUID | datetime):
        return str(value)
    return value


class EventStoreAuditTrail:
    """AuditTrail over the payments application's recorder."""

    def __init__(self, app: PaymentsApplication) -> None:
        self.app = app

    def entry(self, stored: StoredEvent, position: int | None = None) -> AuditEntry:
        event, cause = self.app.caused_mapper.decode(stored)
        aggregate_type, _, type_name = type(event).__qualname__.rpartition(".")
        state = vars(event)
        return AuditEntry(
            aggregate_id=event.originator_id,
            aggregate_type=aggregate_type,
            version=event.originator_version,
            type=type_name,
            occurred_at=state["timestamp"],
            cause=cause,
            data={k: _plain(v) for k, v in state.items() if k not in _BOOKKEEPING},
            position=position,
        )

    def events_of(self, aggregate_id: UUID) -> list[AuditEntry]:
        return [self.entry(s) for s in self.app.recorder.select_events(aggregate_id)]

    def all_events(self, since: datetime | None = None) -> Iterator[AuditEntry]:
        start = 0
        while True:
            page = self.app.recorder.select_notifications(
                start=start, limit=PAGE, inclusive_of_start=False
            )
            for notification in page:
                entry = self.entry(notification, notification.id)
                if since is None or entry.occurred_at >= since:
                    yield entry
            if len(page) < PAGE:
                return
            start = page[-1].id

"""The payment history read model: a projection of payment events into a list per user."""

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from application.ports import HistoryPage, HistoryRow
from domain.payment import Payment
from domain.payment_status import PaymentStatus, derive_status

CountDeltas = dict[tuple[str, str], int]


R = TypeVar("R")


@dataclass
class RowBatch(Generic[R]):
    """A read model's batch: the rows it wrote, and those it read as they were stored."""

    rows: dict[UUID, R] = field(default_factory=dict)
    read: dict[UUID, R | None] = field(default_factory=dict)

    def find(self, payment_id: UUID, read_row: Callable[[UUID], R | None]) -> R | None:
        if payment_id in self.rows:
            return self.rows[payment_id]
        if payment_id not in self.read:
            self.read[payment_id] = read_row(payment_id)
        return self.read[payment_id]

    def prefetch(
        self, payment_ids: Collection[UUID], read_rows: Callable[[list[UUID]], dict[UUID, R]]
    ) -> None:
        """Read the stored rows of these payments, in one query where the backend can."""
        wanted = [i for i in payment_ids if i not in self.rows and i not in self.read]
        found = read_rows(wanted) if wanted else {}
        self.read.update({i: found.get(i) for i in wanted})


def read_each(read_row: Callable[[UUID], R | None], payment_ids: Sequence[UUID]) -> dict[UUID, R]:
    """Rows by id, one read each: for a backend without a read of many."""
    rows = {i: read_row(i) for i in payment_ids}
    return {i: row for i, row in rows.items() if row is not None}


class BatchedRows(ABC, Generic[R]):
    """A read model whose rows are found in the batch being written before in the store."""

    _staged: RowBatch[R] | None = None

    @abstractmethod
    def read_row(self, payment_id: UUID) -> R | None: ...

    def find_row(self, payment_id: UUID) -> R | None:
        if self._staged is None:
            return self.read_row(payment_id)
        return self._staged.find(payment_id, self.read_row)

    def prefetch(self, payment_ids: Collection[UUID]) -> None:
        """Inside a batch: read the stored rows of these payments at once."""
        if self._staged is not None:
            self._staged.prefetch(payment_ids, self.read_rows)

    def read_rows(self, payment_ids: Sequence[UUID]) -> dict[UUID, R]:
        return read_each(self.read_row, payment_ids)


@dataclass
class _Staged(RowBatch[HistoryRow]):
    counts: CountDeltas = field(default_factory=dict)


class HistoryView(TrackingRecorder, BatchedRows[HistoryRow]):
    """Rows and per-user counts, written together with the tracking position."""

    _staged: _Staged | None = None

    def write_row(self, row: HistoryRow, previous_status: str | None, tracking: Tracking) -> None:
        """Upsert the row, move the per-status count, record the tracking, in one transaction."""
        deltas: CountDeltas = {}
        if previous_status != row.status:
            if previous_status is not None:
                deltas[(row.user_id, previous_status)] = -1
            deltas[(row.user_id, row.status)] = 1
        if self._staged is None:
            self.write_rows([row], deltas, tracking)
            return
        self._staged.rows[row.id] = row
        for key, delta in deltas.items():
            self._staged.counts[key] = self._staged.counts.get(key, 0) + delta

    def skip(self, tracking: Tracking) -> None:
        """Record that an event changed nothing (a batch records its last tracking anyway)."""
        if self._staged is None:
            self.insert_tracking(tracking)

    @contextmanager
    def batch(self, tracking: Tracking) -> Iterator[None]:
        """Stage the rows of many events; commit them with `tracking` (the last) at once."""
        self._staged = staged = _Staged()
        try:
            yield
        finally:
            self._staged = None
        self.write_rows(list(staged.rows.values()), staged.counts, tracking)

    @abstractmethod
    def write_rows(
        self, rows: Sequence[HistoryRow], count_deltas: CountDeltas, tracking: Tracking
    ) -> None:
        """Upsert the rows, add the count deltas, record the tracking: one transaction."""

    @abstractmethod
    def page(self, user_id: str, *, limit: int, offset: int, status: str | None) -> HistoryPage: ...

    @abstractmethod
    def clear(self) -> None:
        """Drop every row, count and tracking position, for a rebuild."""


# The charge's own status changes, as every read model of payments records them.
CHARGE_EVENTS: dict[type[Payment.Event], PaymentStatus] = {
    Payment.RequiresAction: PaymentStatus.REQUIRES_ACTION,
    Payment.Processing: PaymentStatus.PROCESSING,
    Payment.Succeeded: PaymentStatus.SUCCEEDED,
    Payment.Failed: PaymentStatus.FAILED,
    Payment.Canceled: PaymentStatus.CANCELED,
}


class PaymentHistoryProjection(Projection[HistoryView]):
    name = "history"
    event_types: tuple[type[Payment.Event], ...] = (
        Payment.Initiated,
        *CHARGE_EVENTS,
        Payment.Refunded,
        Payment.RefundFailed,
    )
    topics = tuple(get_topic(cls) for cls in event_types)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if isinstance(domain_event, Payment.Initiated):
            self._initiated(domain_event, tracking)
            return
        row = self.view.find_row(domain_event.originator_id)
        if row is None:
            self.view.skip(tracking)
            return
        charge_status = PaymentStatus(row.charge_status)
        refunded = row.refunded_amount
        if type(domain_event) in CHARGE_EVENTS:
            charge_status = CHARGE_EVENTS[type(domain_event)]
        elif isinstance(domain_event, Payment.Refunded):
            refunded += domain_event.amount
        elif isinstance(domain_event, Payment.RefundFailed):
            refunded -= domain_event.reversed_amount
        new = replace(
            row,
            charge_status=charge_status.value,
            refunded_amount=refunded,
            status=derive_status(charge_status, refunded, row.amount).value,
            updated_at=domain_event.timestamp,
        )
        self.view.write_row(new, row.status, tracking)

    def _initiated(self, event: Any, tracking: Tracking) -> None:
        created: datetime = event.timestamp
        row = HistoryRow(
            id=event.originator_id,
            user_id=event.user_id,
            amount=event.amount,
            currency=event.currency,
            status=PaymentStatus.PENDING.value,
            charge_status=PaymentStatus.PENDING.value,
            refunded_amount=0,
            course_id=event.course_id,
            created_at=created,
            updated_at=created,
        )
        self.view.write_row(row, None, tracking)

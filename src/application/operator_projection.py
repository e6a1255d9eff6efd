"""The operator read model: a projection of every payment, with what a search needs."""

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from application.history import CHARGE_EVENTS, BatchedRows, RowBatch
from application.operator_search import OperatorPage, OperatorRow, PaymentQuery
from domain.payment import Payment
from domain.payment_status import PaymentStatus, derive_status


class OperatorView(TrackingRecorder, BatchedRows[OperatorRow]):
    """Rows of every user's payments, written together with the tracking position."""

    def write_row(self, row: OperatorRow, tracking: Tracking) -> None:
        if self._staged is None:
            self.write_rows([row], tracking)
        else:
            self._staged.rows[row.id] = row

    def skip(self, tracking: Tracking) -> None:
        if self._staged is None:
            self.insert_tracking(tracking)

    @contextmanager
    def batch(self, tracking: Tracking) -> Iterator[None]:
        """Stage the rows of many events; commit them with `tracking` (the last) at once."""
        self._staged = staged = RowBatch[OperatorRow]()
        try:
            yield
        finally:
            self._staged = None
        self.write_rows(list(staged.rows.values()), tracking)

    @abstractmethod
    def write_rows(self, rows: Sequence[OperatorRow], tracking: Tracking) -> None:
        """Upsert the rows and record the tracking: one transaction."""

    @abstractmethod
    def search(self, query: PaymentQuery) -> OperatorPage: ...

    @abstractmethod
    def clear(self) -> None:
        """Drop every row and the tracking position, for a rebuild."""


class OperatorProjection(Projection[OperatorView]):
    name = "operator"
    event_types: tuple[type[Payment.Event], ...] = (
        Payment.Initiated,
        Payment.IntentCreated,
        *CHARGE_EVENTS,
        Payment.Refunded,
        Payment.RefundFailed,
    )
    topics = tuple(get_topic(cls) for cls in event_types)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if isinstance(domain_event, Payment.Initiated):
            self.view.write_row(_initiated(domain_event), tracking)
            return
        row = self.view.find_row(domain_event.originator_id)
        if row is None:
            self.view.skip(tracking)
            return
        if isinstance(domain_event, Payment.IntentCreated):
            new = replace(row, intent_id=domain_event.intent_id)
        else:
            new = _moved(row, domain_event)
        self.view.write_row(replace(new, updated_at=domain_event.timestamp), tracking)


def _initiated(event: Any) -> OperatorRow:
    return OperatorRow(
        id=event.originator_id,
        user_id=event.user_id,
        amount=event.amount,
        currency=event.currency,
        status=PaymentStatus.PENDING.value,
        charge_status=PaymentStatus.PENDING.value,
        refunded_amount=0,
        course_id=event.course_id,
        intent_id=None,
        created_at=event.timestamp,
        updated_at=event.timestamp,
    )


def _moved(row: OperatorRow, event: Any) -> OperatorRow:
    charge_status = PaymentStatus(row.charge_status)
    refunded = row.refunded_amount
    if type(event) in CHARGE_EVENTS:
        charge_status = CHARGE_EVENTS[type(event)]
    elif isinstance(event, Payment.Refunded):
        refunded += event.amount
    elif isinstance(event, Payment.RefundFailed):
        refunded -= event.reversed_amount
    return replace(
        row,
        charge_status=charge_status.value,
        refunded_amount=refunded,
        status=derive_status(charge_status, refunded, row.amount).value,
    )

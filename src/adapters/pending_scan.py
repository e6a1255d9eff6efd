"""Finds unsettled payments by folding the event store's notification log."""

from collections import Counter
from uuid import UUID

from eventsourcing.persistence import PersistenceError
from eventsourcing.utils import get_topic

from adapters.eventstore import PaymentsApplication
from application.errors import StorageError
from domain.payment import Payment

OPENED = get_topic(Payment.Initiated)
SETTLED = {get_topic(e) for e in (Payment.Succeeded, Payment.Failed, Payment.Canceled)}
REFUND_ASKED = get_topic(Payment.RefundRequested)
REFUND_DONE = {get_topic(e) for e in (Payment.Refunded, Payment.RefundFailed)}
TOPICS = (OPENED, *SETTLED, REFUND_ASKED, *REFUND_DONE)
BATCH = 1000


class EventLogPendingPayments:
    """PendingPayments read from the write side: no projection lag, topics only (no payloads)."""

    def __init__(self, app: PaymentsApplication) -> None:
        self.app = app

    def unsettled(self) -> list[UUID]:
        open_charges: set[UUID] = set()
        open_refunds: Counter[UUID] = Counter()
        start: int | None = None
        try:
            while True:
                batch = self.app.recorder.select_notifications(
                    start, BATCH, topics=TOPICS, inclusive_of_start=start is None
                )
                for n in batch:
                    payment_id = UUID(str(n.originator_id))
                    if n.topic == OPENED:
                        open_charges.add(payment_id)
                    elif n.topic in SETTLED:
                        open_charges.discard(payment_id)
                    elif n.topic == REFUND_ASKED:
                        open_refunds[payment_id] += 1
                    else:
                        open_refunds[payment_id] -= 1
                if len(batch) < BATCH:
                    break
                start = batch[-1].id
        except PersistenceError as error:
            raise StorageError("the event store is unavailable") from error
        with_refunds = {pid for pid, n in open_refunds.items() if n > 0}
        return sorted(open_charges | with_refunds, key=str)

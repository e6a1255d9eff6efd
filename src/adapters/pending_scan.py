"""Finds unsettled payments by folding the event store's notification log."""

from uuid import UUID

from eventsourcing.persistence import Notification, PersistenceError
from eventsourcing.utils import get_topic

from adapters.eventstore import PaymentsApplication
from application.errors import StorageError
from domain.payment import Payment

OPENED = get_topic(Payment.Initiated)
INTENT = get_topic(Payment.IntentCreated)
FAILED = get_topic(Payment.Failed)
SETTLED = {get_topic(e) for e in (Payment.Succeeded, Payment.Failed, Payment.Canceled)}
# A failed payment's intent stays open (Stripe waits for another card) until one of these.
CLOSED = {get_topic(e) for e in (Payment.Succeeded, Payment.Canceled, Payment.IntentClosed)}
REFUND_ASKED = get_topic(Payment.RefundRequested)
REFUND_DONE = {get_topic(e) for e in (Payment.Refunded, Payment.RefundFailed)}
TOPICS = (OPENED, INTENT, *SETTLED, *CLOSED, REFUND_ASKED, *REFUND_DONE)
BATCH = 1000


class EventLogPendingPayments:
    """PendingPayments read from the write side, so it has no projection lag: unsettled
    charges and refunds, and failed payments whose intent may still be open.

    Charge events are told apart by topic alone; refund events are decoded (and decrypted)
    for their refund number, since one refund can settle twice (succeeded, then failed).
    """

    def __init__(self, app: PaymentsApplication) -> None:
        self.app = app

    def unsettled(self) -> list[UUID]:
        open_charges: set[UUID] = set()
        open_refunds: set[tuple[UUID, int]] = set()
        open_intents: set[UUID] = set()
        with_intent: set[UUID] = set()  # a failure before any intent leaves none to close
        start: int | None = None
        try:
            while True:
                batch = self.app.recorder.select_notifications(
                    start, BATCH, topics=TOPICS, inclusive_of_start=start is None
                )
                for n in batch:
                    self._fold(n, open_charges, open_refunds)
                    payment_id = UUID(str(n.originator_id))
                    if n.topic == INTENT:
                        with_intent.add(payment_id)
                    elif n.topic == FAILED and payment_id in with_intent:
                        open_intents.add(payment_id)
                    elif n.topic in CLOSED:
                        open_intents.discard(payment_id)
                if len(batch) < BATCH:
                    break
                start = batch[-1].id
        except PersistenceError as error:
            raise StorageError("the event store is unavailable") from error
        refunding = {pid for pid, _ in open_refunds}
        return sorted(open_charges | refunding | open_intents, key=str)

    def _fold(self, n: Notification, charges: set[UUID], refunds: set[tuple[UUID, int]]) -> None:
        payment_id = UUID(str(n.originator_id))
        if n.topic == OPENED:
            charges.add(payment_id)
        elif n.topic in SETTLED:
            charges.discard(payment_id)
        elif n.topic in CLOSED or n.topic == INTENT:
            pass  # a failed payment's intent: folded by the caller
        else:
            event = self.app.mapper.to_domain_event(n)
            if isinstance(event, Payment.RefundRequested):
                refunds.add((payment_id, event.number))
            elif isinstance(event, (Payment.Refunded, Payment.RefundFailed)):
                refunds.discard((payment_id, event.number))

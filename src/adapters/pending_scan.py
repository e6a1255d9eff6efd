"""Finds unsettled payments by folding the event store's notification log."""

from dataclasses import dataclass, field
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
REFUND_TOPICS = {REFUND_ASKED, *REFUND_DONE}
TOPICS = tuple(sorted({OPENED, INTENT, *SETTLED, *CLOSED, *REFUND_TOPICS}))
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
        seen = _Open()
        start: int | None = None
        try:
            while True:
                batch = self.app.recorder.select_notifications(
                    start, BATCH, topics=TOPICS, inclusive_of_start=start is None
                )
                for n in batch:
                    self._fold(n, seen)
                if len(batch) < BATCH:
                    break
                start = batch[-1].id
        except PersistenceError as error:
            raise StorageError("the event store is unavailable") from error
        return seen.payments()

    def _fold(self, n: Notification, seen: "_Open") -> None:
        payment_id = UUID(str(n.originator_id))
        if n.topic == OPENED:
            seen.charges.add(payment_id)
        elif n.topic == INTENT:
            seen.with_intent.add(payment_id)
        elif n.topic in REFUND_TOPICS:
            event = self.app.mapper.to_domain_event(n)
            if isinstance(event, Payment.RefundRequested):
                seen.refunds.add((payment_id, event.number))
            elif isinstance(event, (Payment.Refunded, Payment.RefundFailed)):
                seen.refunds.discard((payment_id, event.number))
        else:  # the charge settled, or a failed payment's intent closed
            if n.topic in SETTLED:
                seen.charges.discard(payment_id)
            if n.topic == FAILED and payment_id in seen.with_intent:
                seen.intents.add(payment_id)
            elif n.topic in CLOSED:
                seen.intents.discard(payment_id)


@dataclass
class _Open:
    """What the log has left open so far."""

    charges: set[UUID] = field(default_factory=set)
    refunds: set[tuple[UUID, int]] = field(default_factory=set)
    intents: set[UUID] = field(default_factory=set)  # failed payments' intents, maybe open
    with_intent: set[UUID] = field(default_factory=set)  # a failure before one leaves none

    def payments(self) -> list[UUID]:
        refunding = {payment_id for payment_id, _ in self.refunds}
        return sorted(self.charges | refunding | self.intents, key=str)

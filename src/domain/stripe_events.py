"""Stripe's events as facts of their own: each delivery's receipt, each PaymentIntent's owner."""

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

RECEIPT_NAMESPACE = UUID("0b7f9a52-4c1e-4f0e-9a0d-3f6c2b8e5d17")
INTENT_NAMESPACE = UUID("5d2e8c41-7a3b-4e96-b1f0-8c4d2a6e9f03")


def receipt_id_for(event_id: str) -> UUID:
    """The one receipt a Stripe event id can ever have: a second delivery collides with it."""
    return uuid5(RECEIPT_NAMESPACE, event_id)


def intent_link_id_for(intent_id: str) -> UUID:
    return uuid5(INTENT_NAMESPACE, intent_id)


class StripeEventReceipt(Aggregate):
    """Proof that one Stripe event was taken in, kept with what it did."""

    class Received(Aggregate.Created):
        event_id: str
        event_type: str
        stripe_created: int
        outcome: str
        payment_id: str | None

    @staticmethod
    def create_id(event_id: str) -> UUID:
        return receipt_id_for(event_id)

    def __init__(
        self,
        *,
        event_id: str,
        event_type: str,
        stripe_created: int,
        outcome: str,
        payment_id: str | None,
    ) -> None:
        self.event_id = event_id
        self.event_type = event_type
        self.stripe_created = stripe_created
        self.outcome = outcome
        self.payment_id = payment_id


class PaymentIntentLink(Aggregate):
    """Which payment a Stripe PaymentIntent belongs to, saved with the payment's IntentCreated."""

    class Linked(Aggregate.Created):
        intent_id: str
        payment_id: UUID

    @staticmethod
    def create_id(intent_id: str) -> UUID:
        return intent_link_id_for(intent_id)

    def __init__(self, *, intent_id: str, payment_id: UUID) -> None:
        self.intent_id = intent_id
        self.payment_id = payment_id

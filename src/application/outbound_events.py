"""Outbound events: which payment facts leave the service, under which type, id and order."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.utils import get_topic

from domain.payment import Payment

EVENT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:payments:outbound-event")
NATS_ENDPOINT = "nats"

OUTBOUND_TYPES: dict[type[Payment.Event], str] = {
    Payment.Succeeded: "payment.succeeded",
    Payment.Failed: "payment.failed",
    Payment.RequiresAction: "payment.requires_action",
    Payment.Canceled: "payment.canceled",
    Payment.Refunded: "payment.refunded",
    Payment.RefundFailed: "payment.refund_failed",
    Payment.DisputeOpened: "payment.dispute_opened",
    Payment.DisputeClosed: "payment.dispute_closed",
}
OUTBOUND_TOPICS = {get_topic(cls): name for cls, name in OUTBOUND_TYPES.items()}


def outbound_event_id(payment_id: UUID, version: int) -> UUID:
    """The same event has the same id everywhere: every endpoint, every retry, every replay."""
    return uuid5(EVENT_NAMESPACE, f"{payment_id}:{version}")


@dataclass(frozen=True, kw_only=True)
class OutboxEntry:
    """One settled fact of a payment, to announce: ids only, the body is built when sent."""

    event_id: UUID
    type: str
    payment_id: UUID
    sequence: int  # the payment's version at this event: strictly increasing per payment
    refund_number: int | None
    position: int
    occurred_at: datetime


def entry_for(domain_event: Any, position: int) -> OutboxEntry | None:
    """The outbox entry a stored payment event makes, or None when it is not announced."""
    event_type = OUTBOUND_TYPES.get(type(domain_event))
    if event_type is None:
        return None
    payment_id: UUID = domain_event.originator_id
    version: int = domain_event.originator_version
    return OutboxEntry(
        event_id=outbound_event_id(payment_id, version),
        type=event_type,
        payment_id=payment_id,
        sequence=version,
        refund_number=getattr(domain_event, "number", None),
        position=position,
        occurred_at=domain_event.timestamp,
    )


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """An outbox row claimed for one try at one endpoint."""

    entry: OutboxEntry
    endpoint: str
    attempts: int  # tries made before this one
    first_attempt_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class OutboxRow:
    """An outbox row as operators list it."""

    entry: OutboxEntry
    endpoint: str
    status: str  # pending | delivered | parked
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


@dataclass(frozen=True)
class Moved:
    """What `events move` did: rows given to the new endpoint, rows dropped from the old one
    because the new one has those events already, and moved rows that reach the new endpoint
    after a later event of their payment was delivered there."""

    moved: int
    dropped: int
    late: int


@dataclass(frozen=True)
class OutboxHealth:
    lag_seconds: float  # age of the oldest event a receiver is still waiting for
    parked: int
    # Rows not yet delivered whose endpoint is no longer configured: no dispatcher sends them
    # until `events move` gives them to a configured one.
    stranded: int = 0

"""A payment's statuses, the order they move in, and its refunds as values."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID, uuid5

PAYMENT_NAMESPACE = UUID("6f6b3c2e-1d0a-4a57-9e43-7c1f6a0b9d11")


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


# A charge only moves up this ladder: a late or repeated fact never moves it down.
CHARGE_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.REQUIRES_ACTION: 1,
    PaymentStatus.PROCESSING: 2,
    PaymentStatus.FAILED: 3,
    PaymentStatus.CANCELED: 4,
    PaymentStatus.SUCCEEDED: 5,
}


class RefundState(StrEnum):
    REQUESTED = "requested"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


REFUND_RANK = {
    RefundState.REQUESTED: 0,
    RefundState.PENDING: 1,
    RefundState.SUCCEEDED: 2,
    RefundState.FAILED: 3,
}


@dataclass
class Refund:
    number: int
    amount: int
    state: RefundState
    refund_id: str | None = None
    reason: str | None = None
    requested_by: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None

    @property
    def released_unsent(self) -> bool:
        """Failed without a Stripe refund id: the service gave it up as never taken in by
        Stripe, which has not said a word on it."""
        return self.state is RefundState.FAILED and self.refund_id is None


def refund_by_request(
    refunds: Iterable[Refund], requested_by: str, idempotency_key: str
) -> Refund | None:
    """The refund the latest earlier request with this (requester, key) reserved, if any.

    The latest, because a key whose refund was released unsent reserves a new one.
    """
    wanted = (requested_by, idempotency_key)
    matching = [r for r in refunds if (r.requested_by, r.idempotency_key) == wanted]
    return matching[-1] if matching else None


def derive_status(charge_status: PaymentStatus, refunded: int, amount: int) -> PaymentStatus:
    """What a customer sees: the charge's state, or how much of a success was refunded."""
    if charge_status is PaymentStatus.SUCCEEDED and refunded > 0:
        return PaymentStatus.REFUNDED if refunded >= amount else PaymentStatus.PARTIALLY_REFUNDED
    return charge_status


def payment_id_for(user_id: str, idempotency_key: str, attempt: int = 0) -> UUID:
    """The one payment a (user, key) pair can ever create; `attempt` counts released keys."""
    return uuid5(PAYMENT_NAMESPACE, f"{user_id}\x1f{idempotency_key}\x1f{attempt}")

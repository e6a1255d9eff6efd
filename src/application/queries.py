"""Reading payments: one payment from its events, lists from the read model."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.actors import Actor
from application.errors import NotFound
from application.ports import HistoryPage, PaymentHistory, PaymentStore
from domain.errors import InvalidInput
from domain.payment import Payment
from domain.payment_status import PaymentStatus

MAX_PAGE = 100


@dataclass(frozen=True, kw_only=True)
class RefundView:
    number: int
    refund_id: str | None
    amount: int
    state: str
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class PaymentDetails:
    id: str
    user_id: str
    amount: int
    currency: str
    status: str
    refunded_amount: int
    course_id: str | None
    metadata: dict[str, str]
    intent_id: str | None
    created_at: datetime
    updated_at: datetime
    refunds: list[RefundView]
    failure_code: str | None
    failure_message: str | None


def visible_payment(store: PaymentStore, actor: Actor, payment_id: UUID) -> Payment:
    """The payment if the actor may see it; another user's payment does not exist for them."""
    payment = store.find(payment_id)
    if payment is None or not actor.may_see(payment.user_id):
        raise NotFound("payment not found")
    return payment


def get_payment(actor: Actor, payment_id: UUID, *, store: PaymentStore) -> PaymentDetails:
    return payment_details(visible_payment(store, actor, payment_id))


def payment_details(payment: Payment) -> PaymentDetails:
    """What the payment's owner may read of it (outbound events carry the same)."""
    failure = payment.failure or {}
    return PaymentDetails(
        id=str(payment.id),
        user_id=payment.user_id,
        amount=payment.amount,
        currency=payment.currency,
        status=payment.status.value,
        refunded_amount=payment.refunded_amount,
        course_id=payment.course_id,
        metadata=payment.metadata,
        intent_id=payment.intent_id,
        created_at=payment.created_on,
        updated_at=payment.modified_on,
        refunds=[
            RefundView(
                number=r.number,
                refund_id=r.refund_id,
                amount=r.amount,
                state=r.state.value,
                reason=r.reason,
            )
            for r in payment.refunds.values()
        ],
        failure_code=failure.get("code"),
        failure_message=failure.get("message"),
    )


def payment_history(
    actor: Actor, *, limit: int, offset: int, status: str | None, history: PaymentHistory
) -> HistoryPage:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise InvalidInput("offset", "must not be negative")
    if status is not None and status not in {s.value for s in PaymentStatus}:
        raise InvalidInput("status", f"'{status}' is not a payment status")
    return history.page(actor.user_id, limit=limit, offset=offset, status=status)

"""Give money back: in full or in part, never more than was paid."""

from dataclasses import dataclass
from uuid import UUID

from application.actors import Actor
from application.changes import change_payment, load_payment
from application.errors import Forbidden, GatewayError
from application.ports import GatewayUnavailable, PaymentGateway, PaymentStore, RefundRequest
from domain.errors import InvalidStatus
from domain.payment import Payment


@dataclass(frozen=True, kw_only=True)
class RefundPayment:
    actor: Actor
    payment_id: UUID
    amount: int | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RefundReceipt:
    payment_id: str
    refund_id: str | None
    amount: int
    status: str


def refund_payment(
    cmd: RefundPayment, *, store: PaymentStore, gateway: PaymentGateway
) -> RefundReceipt:
    if not cmd.actor.is_admin:
        raise Forbidden("refunds need the admin role")
    payment = load_payment(store, cmd.payment_id)
    if payment.intent_id is None:
        raise InvalidStatus(f"a {payment.status.value} payment cannot be refunded")
    refund = change_payment(
        store, cmd.payment_id, lambda p: p.request_refund(cmd.amount, cmd.reason)
    )
    request = RefundRequest(
        payment_id=payment.id,
        intent_id=payment.intent_id,
        amount=refund.amount,
        reason=cmd.reason,
        idempotency_key=f"refund-{payment.id}-{refund.number}",
        number=refund.number,
    )
    try:
        outcome = gateway.refund(request)
    except GatewayUnavailable:
        raise GatewayError(
            "the payment provider did not answer; the refund will be settled by reconciliation"
        ) from None

    def settle(p: Payment) -> Payment:
        if outcome.status == "succeeded":
            p.record_refund(refund.number, outcome.refund_id, outcome.amount)
        elif outcome.status == "pending":
            p.mark_refund_pending(refund.number, outcome.refund_id, outcome.amount)
        else:
            p.record_refund_failure(refund.number, outcome.refund_id, outcome.amount)
        return p

    settled = change_payment(store, cmd.payment_id, settle)
    if outcome.status == "failed":
        raise GatewayError("the payment provider could not refund this payment")
    return RefundReceipt(
        payment_id=str(settled.id),
        refund_id=outcome.refund_id,
        amount=refund.amount,
        status=settled.status.value,
    )

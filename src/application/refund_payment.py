"""Give money back: in full or in part, never more than was paid, once per idempotency key."""

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from application.actors import Actor
from application.changes import change_payment, load_payment
from application.charges import apply_refund_outcome
from application.deadlines import NO_DEADLINE, Deadline
from application.errors import (
    Forbidden,
    GatewayError,
    IdempotencyConflict,
    IdempotencyMismatch,
    NotStarted,
)
from application.idempotency import CONFLICT, MISMATCH, validate_idempotency_key
from application.ports import (
    GatewayRequestInFlight,
    GatewayUnavailable,
    PaymentGateway,
    PaymentStore,
    RefundOutcome,
    RefundRequest,
)
from application.provider_calls import call_provider, shielded
from domain.errors import InvalidStatus
from domain.payment import Payment
from domain.payment_status import Refund, RefundState

T = TypeVar("T")
NOT_REFUNDED = "the payment provider could not refund this payment"
UNANSWERED = "the payment provider did not answer; the refund will be settled by reconciliation"


@dataclass(frozen=True, kw_only=True)
class RefundPayment:
    actor: Actor
    payment_id: UUID
    amount: int | None = None
    reason: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class RefundReceipt:
    payment_id: str
    refund_id: str | None
    amount: int
    status: str


def refund_request_hash(cmd: RefundPayment) -> str:
    """What "the same refund request" means for one key."""
    body = {"paymentId": str(cmd.payment_id), "amount": cmd.amount, "reason": cmd.reason}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def refund_payment(
    cmd: RefundPayment,
    *,
    store: PaymentStore,
    gateway: PaymentGateway,
    deadline: Deadline = NO_DEADLINE,
) -> RefundReceipt:
    if not cmd.actor.is_admin:
        raise Forbidden("refunds need the admin role")
    if cmd.idempotency_key is not None:
        validate_idempotency_key(cmd.idempotency_key)
    payment = await asyncio.to_thread(load_payment, store, cmd.payment_id)
    if payment.intent_id is None:
        raise InvalidStatus(f"a {payment.status.value} payment cannot be refunded")
    refund, reserved_now = await asyncio.to_thread(
        change_payment, store, cmd.payment_id, lambda p: _reserve(p, cmd)
    )
    if refund.state is RefundState.SUCCEEDED:
        current = await asyncio.to_thread(load_payment, store, cmd.payment_id)
        return _receipt(current, refund, refund.refund_id)
    if refund.state is RefundState.FAILED:
        raise GatewayError(NOT_REFUNDED)
    request = RefundRequest(
        payment_id=payment.id,
        intent_id=payment.intent_id,
        amount=refund.amount,
        reason=refund.reason,
        idempotency_key=f"refund-{payment.id}-{refund.number}",
        number=refund.number,
    )
    # Once Stripe is asked, its answer is recorded even if the request is abandoned meanwhile.
    return await shielded(
        _refund_and_record(cmd, refund, request, store, gateway, deadline, retried=not reserved_now)
    )


async def _refund_and_record(
    cmd: RefundPayment,
    refund: Refund,
    request: RefundRequest,
    store: PaymentStore,
    gateway: PaymentGateway,
    deadline: Deadline,
    *,
    retried: bool,
) -> RefundReceipt:
    """Stripe's answer for the refund, recorded. An earlier request's refund may be at Stripe
    already, and Stripe forgets idempotency keys after a day: it is looked up before it is sent.
    """

    async def send() -> RefundOutcome:
        """A refund reserved by this request (no earlier one sent it) and not sent before the
        deadline gives its reservation back, so that the money is refundable again at once.
        One refused with 429s stays reserved, for a retry with its key or reconcile to settle:
        stripe-python may have sent it once already (a read that timed out, then retried into
        Stripe's `lock_timeout` while Stripe made it), so its answer proves nothing. A retried
        one may be at Stripe by an earlier request's send: it stays reserved too."""
        try:
            return await _ask(lambda: gateway.refund(request), deadline)
        except NotStarted:
            if not retried:
                await asyncio.to_thread(
                    change_payment, store, cmd.payment_id, lambda p: _settle(p, refund, None)
                )
            raise

    outcome: RefundOutcome | None = None
    if retried:
        outcome = await _ask(
            lambda: gateway.find_refund(request.intent_id, request.payment_id, refund.number),
            deadline,
        )
    if outcome is None:
        outcome = await send()
    settled = await asyncio.to_thread(
        change_payment, store, cmd.payment_id, lambda p: _settle(p, refund, outcome)
    )
    if outcome.status == "failed":
        raise GatewayError(NOT_REFUNDED)
    return _receipt(settled, refund, outcome.refund_id)


async def _ask(call: Callable[[], Awaitable[T]], deadline: Deadline) -> T:
    """A call to Stripe within the deadline, an answer it did not give told as ours."""
    try:
        return await call_provider(call, deadline)
    except GatewayRequestInFlight:
        raise IdempotencyConflict(CONFLICT) from None
    except GatewayUnavailable:
        raise GatewayError(UNANSWERED) from None


def _reserve(payment: Payment, cmd: RefundPayment) -> tuple[Refund, bool]:
    """The refund this request stands for, and whether it was reserved now: an earlier request
    with its key reserved it, or that one was released unsent and the key reserves anew."""
    if cmd.idempotency_key is None:
        return payment.request_refund(cmd.amount, cmd.reason), True
    fingerprint = refund_request_hash(cmd)
    earlier = payment.refund_requested_with(cmd.actor.user_id, cmd.idempotency_key)
    if earlier is not None and earlier.request_hash != fingerprint:
        raise IdempotencyMismatch(MISMATCH)
    if earlier is not None and not earlier.released_unsent:
        return earlier, False
    refund = payment.request_refund(
        cmd.amount,
        cmd.reason,
        requested_by=cmd.actor.user_id,
        idempotency_key=cmd.idempotency_key,
        request_hash=fingerprint,
    )
    return refund, True


def _settle(payment: Payment, refund: Refund, outcome: RefundOutcome | None) -> Payment:
    """Stripe's answer recorded; None: Stripe never took the refund in, its amount is freed."""
    apply_refund_outcome(payment, refund.number, outcome)
    return payment


def _receipt(payment: Payment, refund: Refund, refund_id: str | None) -> RefundReceipt:
    return RefundReceipt(
        payment_id=str(payment.id),
        refund_id=refund_id,
        amount=refund.amount,
        status=payment.status.value,
    )

"""One payment's stream of Stripe events, as hypothesis draws it, and what a payment ends as."""

from typing import Any

from hypothesis import strategies as st

from adapters.eventstore import EventSourcedPaymentStore, PaymentsApplication
from application.changes import change_payment
from application.ingest_stripe_event import IngestStripeEvent
from domain.payment import Payment
from tests.stripe_fixtures import (
    charge_refunded,
    dispute,
    event,
    new_id,
    payment_intent,
    refund,
)

AMOUNT = 10_000


def memory_store() -> EventSourcedPaymentStore:
    return EventSourcedPaymentStore(PaymentsApplication(env={"PERSISTENCE_MODULE": ""}))


def pending_payment(store: EventSourcedPaymentStore, intent_id: str, user: str = "u1") -> Payment:
    """A payment whose PaymentIntent was created and whose outcome only webhooks will tell."""
    payment = Payment(
        user_id=user, amount=AMOUNT, currency="usd", payment_method_id="pm_card_visa",
        course_id=None, metadata={}, idempotency_key=new_id("key"), key_derived=False,
        attempt=0, request_hash="h",
    )  # fmt: skip
    store.save(payment)
    return change_payment(store, payment.id, lambda p: (p.record_intent(intent_id), p)[1])


@st.composite
def payment_streams(draw: st.DrawFn, intent_id: str, payment_id: str) -> list[dict[str, Any]]:
    """Every event Stripe could send about one PaymentIntent, in the order it happened."""
    evts: list[dict[str, Any]] = []
    with_metadata = draw(st.booleans())

    def intent(kind: str, status: str, **extra: Any) -> None:
        pid = payment_id if with_metadata else None
        evts.append(
            event(kind, payment_intent(intent_id, status, amount=AMOUNT, payment_id=pid, **extra))
        )

    for kind, status in (("processing", "processing"), ("requires_action", "requires_action")):
        if draw(st.booleans()):
            intent(f"payment_intent.{kind}", status)
    if draw(st.booleans()):
        error = {"code": "card_declined", "decline_code": "generic_decline", "message": "Declined."}
        intent("payment_intent.payment_failed", "requires_payment_method", error=error)
    ending = draw(st.sampled_from(["succeeded", "canceled", "open"]))
    if ending == "canceled":
        intent("payment_intent.canceled", "canceled", cancellation_reason="abandoned")
    if ending != "succeeded":
        return evts
    intent("payment_intent.succeeded", "succeeded")
    amounts = draw(st.lists(st.integers(1, AMOUNT // 4), max_size=4))
    settled = []
    for value in amounts:
        rid, final = new_id("re"), draw(st.sampled_from(["succeeded", "failed", "pending"]))
        evts.append(event("refund.created", refund(rid, intent_id, value, "pending")))
        if final != "pending":
            evts.append(event("refund.updated", refund(rid, intent_id, value, final)))
            evts.append(event("charge.refund.updated", refund(rid, intent_id, value, final)))
        if final == "failed":
            evts.append(event("refund.failed", refund(rid, intent_id, value, "failed")))
        settled.append(refund(rid, intent_id, value, final))
        evts.append(event("charge.refunded", charge_refunded(intent_id, AMOUNT, list(settled))))
    if draw(st.booleans()):
        case = new_id("dp")
        evts.append(
            event("charge.dispute.created", dispute(case, intent_id, AMOUNT, "needs_response"))
        )
        if draw(st.booleans()):
            evts.append(event("charge.dispute.closed", dispute(case, intent_id, AMOUNT, "lost")))
    return evts


def command(evt: dict[str, Any]) -> IngestStripeEvent:
    return IngestStripeEvent(
        event_id=evt["id"], event_type=evt["type"], created=evt["created"],
        data_object=evt["data"]["object"],
    )  # fmt: skip


def state(payment: Payment) -> dict[str, Any]:
    """What anyone can see of a payment, from its status to each refund and dispute."""
    return {
        "status": payment.status,
        "charge_status": payment.charge_status,
        "refunded": payment.refunded_amount,
        "intent": payment.intent_id,
        "failure": payment.failure,
        "refunds": sorted((r.refund_id, r.amount, r.state) for r in payment.refunds.values()),
        "disputes": payment.disputes,
        "stripe_events": set(payment.stripe_events),
    }

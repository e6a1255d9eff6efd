"""The domain's side of Stripe's events: receipts, intent owners, and the payment's trail."""

from domain.payment import Payment
from domain.payment_status import PaymentStatus
from domain.stripe_events import PaymentIntentLink, StripeEventReceipt, receipt_id_for


def a_payment() -> Payment:
    return Payment(
        user_id="u", amount=1000, currency="usd", payment_method_id="pm_card_visa",
        course_id=None, metadata={}, idempotency_key="k", key_derived=False, attempt=0,
        request_hash="h",
    )  # fmt: skip


def test_one_event_id_has_one_receipt_id() -> None:
    one = StripeEventReceipt(
        event_id="evt_1", event_type="x", stripe_created=1, outcome="applied", payment_id=None
    )
    assert one.id == receipt_id_for("evt_1") != receipt_id_for("evt_2")
    assert PaymentIntentLink(intent_id="pi_1", payment_id=one.id).id != one.id


def test_a_stripe_event_is_noted_once_in_the_payments_trail() -> None:
    payment = a_payment()
    payment.note_stripe_event("evt_1", "payment_intent.succeeded", 1700000000, "applied")
    payment.note_stripe_event("evt_1", "payment_intent.succeeded", 1700000000, "applied")
    noted = [e for e in payment.collect_events() if isinstance(e, Payment.StripeEventReceived)]
    assert [(e.event_id, e.outcome) for e in noted] == [("evt_1", "applied")]


def test_a_success_after_a_failed_attempt_leaves_no_failure_behind() -> None:
    payment = a_payment()
    payment.mark_failed("card_declined", "generic_decline", "Declined.")
    payment.mark_succeeded()
    assert (payment.status, payment.failure) == (PaymentStatus.SUCCEEDED, None)
    payment.mark_failed("card_declined", None, "late")
    assert (payment.status, payment.failure) == (PaymentStatus.SUCCEEDED, None)

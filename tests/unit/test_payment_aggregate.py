"""Payment aggregate: given events, when a command, then new events or an error."""

import pytest

from domain.errors import AlreadyRefunded, InvalidInput, InvalidStatus, RefundExceedsAmount
from domain.payment import Payment
from domain.payment_status import PaymentStatus, payment_id_for


def new_payment(amount: int = 1000, currency: str = "usd") -> Payment:
    payment = Payment(
        user_id="user-1",
        amount=amount,
        currency=currency,
        payment_method_id="pm_card_visa",
        course_id="course-1",
        metadata={},
        idempotency_key="key-1",
        key_derived=False,
        attempt=0,
        request_hash="hash",
    )
    payment.collect_events()
    return payment


def succeeded_payment(amount: int = 1000, currency: str = "usd") -> Payment:
    payment = new_payment(amount, currency)
    payment.record_intent("pi_1")
    payment.mark_succeeded()
    payment.collect_events()
    return payment


def event_names(payment: Payment) -> list[str]:
    return [type(e).__name__ for e in payment.collect_events()]


def test_the_payment_id_is_derived_from_user_and_key() -> None:
    assert new_payment().id == payment_id_for("user-1", "key-1")
    assert payment_id_for("user-1", "key-1") != payment_id_for("user-2", "key-1")
    assert payment_id_for("user-1", "key-1", 0) != payment_id_for("user-1", "key-1", 1)


def test_a_new_payment_is_pending_with_nothing_refunded() -> None:
    payment = new_payment()
    assert payment.status is PaymentStatus.PENDING
    assert payment.refunded_amount == 0


def test_success_is_recorded_once() -> None:
    payment = new_payment()
    payment.record_intent("pi_1")
    payment.mark_succeeded()
    payment.mark_succeeded()
    payment.record_intent("pi_1")
    assert event_names(payment) == ["IntentCreated", "Succeeded"]
    assert payment.status is PaymentStatus.SUCCEEDED


def test_a_late_processing_never_undoes_success() -> None:
    payment = succeeded_payment()
    payment.mark_processing()
    payment.mark_requires_action()
    payment.mark_failed("card_declined", "generic_decline", "declined")
    assert event_names(payment) == []
    assert payment.status is PaymentStatus.SUCCEEDED


def test_success_after_a_failure_wins() -> None:
    payment = new_payment()
    payment.mark_failed("card_declined", None, "declined")
    payment.mark_succeeded()
    assert event_names(payment) == ["Failed", "Succeeded"]
    assert payment.status is PaymentStatus.SUCCEEDED


def test_a_decline_keeps_stripe_codes() -> None:
    payment = new_payment()
    payment.mark_failed("card_declined", "insufficient_funds", "Your card has insufficient funds.")
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure == {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "advice_code": None,
    }


def test_partial_then_full_refund() -> None:
    payment = succeeded_payment(1000)
    first = payment.request_refund(400, "customer asked")
    payment.record_refund(first.number, "re_1", 400)
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED
    second = payment.request_refund(None, None)
    assert second.amount == 600
    payment.record_refund(second.number, "re_2", 600)
    assert payment.status is PaymentStatus.REFUNDED
    assert payment.refunded_amount == 1000
    assert event_names(payment) == ["RefundRequested", "Refunded", "RefundRequested", "Refunded"]


def test_a_refund_of_a_fully_refunded_payment_is_already_refunded() -> None:
    payment = succeeded_payment(1000)
    refund = payment.request_refund(None, None)
    payment.record_refund(refund.number, "re_1", 1000)
    with pytest.raises(AlreadyRefunded):
        payment.request_refund(None, None)


@pytest.mark.parametrize("status", ["pending", "failed", "processing"])
def test_only_a_successful_payment_can_be_refunded(status: str) -> None:
    payment = new_payment()
    if status == "failed":
        payment.mark_failed("card_declined", None, "declined")
    elif status == "processing":
        payment.mark_processing()
    payment.collect_events()
    with pytest.raises(InvalidStatus):
        payment.request_refund(100, None)
    assert event_names(payment) == []


def test_in_flight_refunds_count_against_the_amount() -> None:
    payment = succeeded_payment(1000)
    payment.request_refund(700, None)
    with pytest.raises(RefundExceedsAmount):
        payment.request_refund(400, None)
    assert payment.refundable_amount == 300


@pytest.mark.parametrize("amount", [0, -5, 1001])
def test_a_refund_must_be_positive_and_within_the_amount(amount: int) -> None:
    payment = succeeded_payment(1000)
    with pytest.raises(RefundExceedsAmount):
        payment.request_refund(amount, None)
    assert event_names(payment) == []


@pytest.mark.parametrize(
    ("currency", "refused", "accepted"), [("isk", 250, 200), ("kwd", 1005, 1000)]
)
def test_a_partial_refund_in_steps_stripe_refuses_is_refused(
    currency: str, refused: int, accepted: int
) -> None:
    """Stripe refunds ISK in whole krónur (multiples of 100) and KWD in tens of fils."""
    payment = succeeded_payment(5000, currency)
    with pytest.raises(InvalidInput) as error:
        payment.request_refund(refused, None)
    assert error.value.field == "amount"
    assert event_names(payment) == []
    payment.request_refund(accepted, None)
    assert payment.refundable_amount == 5000 - accepted


def test_a_repeated_refund_fact_is_a_no_op() -> None:
    payment = succeeded_payment(1000)
    refund = payment.request_refund(300, None)
    payment.record_refund(refund.number, "re_1", 300)
    payment.record_refund(None, "re_1", 300)
    payment.mark_refund_pending(None, "re_1", 300)
    assert event_names(payment) == ["RefundRequested", "Refunded"]
    assert payment.refunded_amount == 300


def test_a_refund_made_outside_the_service_is_imported() -> None:
    payment = succeeded_payment(1000)
    payment.record_refund(None, "re_dashboard", 250)
    assert payment.refunded_amount == 250
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED


def test_a_failed_refund_releases_its_reservation() -> None:
    payment = succeeded_payment(1000)
    refund = payment.request_refund(1000, None)
    payment.record_refund_failure(refund.number, "re_1", 1000)
    assert payment.refundable_amount == 1000
    assert payment.status is PaymentStatus.SUCCEEDED


def test_a_refund_that_fails_after_success_is_reversed() -> None:
    payment = succeeded_payment(1000)
    refund = payment.request_refund(400, None)
    payment.record_refund(refund.number, "re_1", 400)
    payment.record_refund_failure(refund.number, "re_1", 400)
    events = payment.collect_events()
    assert events[-1].reversed_amount == 400  # type: ignore[attr-defined]
    assert payment.refunded_amount == 0


def test_an_outside_refund_above_the_amount_is_capped_and_the_difference_recorded() -> None:
    payment = succeeded_payment(5000)
    payment.record_refund(None, "re_huge", 10**12)
    assert event_names(payment) == ["RefundRequested", "RefundOverstated", "Refunded"]
    assert payment.refunded_amount == 5000
    assert payment.status is PaymentStatus.REFUNDED
    payment.record_refund(None, "re_huge", 10**12)  # Stripe says it again
    assert event_names(payment) == []


def test_our_own_refund_settling_after_an_outside_one_never_passes_the_amount() -> None:
    payment = succeeded_payment(1000)
    payment.request_refund(800, None)
    payment.record_refund(None, "re_dashboard", 500)  # made in Stripe's dashboard meanwhile
    payment.record_refund(1, "re_ours", 800)
    assert payment.refunded_amount == 1000
    assert payment.overstated_refunds == {"re_ours": 800}


def test_a_refund_given_up_unsent_that_stripe_made_after_all_is_recorded() -> None:
    payment = succeeded_payment(1000)
    refund = payment.request_refund(400, None)
    payment.record_refund_failure(refund.number, "", 400)  # the service's guess: never sent
    assert refund.released_unsent and payment.refundable_amount == 1000

    payment.mark_refund_pending(refund.number, "re_late", 400)  # Stripe's word
    assert payment.reserved_amount == 400
    payment.record_refund(refund.number, "re_late", 400)

    assert event_names(payment) == ["RefundRequested", "RefundFailed", "RefundPending", "Refunded"]
    assert (payment.refunded_amount, payment.refundable_amount) == (400, 600)
    assert payment.refunds[1].refund_id == "re_late"
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED


def test_a_refund_stripe_itself_failed_is_not_brought_back() -> None:
    payment = succeeded_payment(1000)
    refund = payment.request_refund(400, None)
    payment.record_refund_failure(refund.number, "re_1", 400)
    payment.record_refund(refund.number, "re_1", 400)
    payment.record_refund_failure(refund.number, "", 400)
    assert event_names(payment) == ["RefundRequested", "RefundFailed"]
    assert payment.refunded_amount == 0


def test_a_dispute_opened_after_its_closing_keeps_its_opening_and_stays_closed() -> None:
    payment = succeeded_payment(1000)
    payment.close_dispute("dp_1", "lost")
    payment.open_dispute("dp_1", 1000, "fraudulent")
    payment.open_dispute("dp_1", 1000, "fraudulent")  # Stripe says it again

    assert event_names(payment) == ["DisputeClosed", "DisputeOpened"]
    assert payment.disputes == {"dp_1": "closed"}


def test_a_canceled_intent_closes_a_failed_payment_which_keeps_its_decline() -> None:
    payment = new_payment()
    payment.record_intent("pi_1")
    payment.mark_failed("card_declined", "generic_decline", "Your card was declined.")
    payment.collect_events()

    payment.mark_canceled("abandoned")
    payment.mark_canceled("abandoned")  # Stripe's webhook after our own cancel: nothing new

    assert event_names(payment) == ["IntentClosed"]
    assert payment.status is PaymentStatus.FAILED and payment.intent_closed
    assert payment.failure is not None and payment.failure["code"] == "card_declined"
    assert not payment.confirmable


def test_a_payment_canceled_before_it_failed_is_canceled() -> None:
    payment = new_payment()
    payment.record_intent("pi_1")
    payment.mark_requires_action()
    payment.collect_events()

    payment.mark_canceled("abandoned")

    assert event_names(payment) == ["Canceled"]
    assert payment.status is PaymentStatus.CANCELED and not payment.intent_closed

"""Stripe's errors, as its API sends them, to the contract's codes: one test per table row."""

import asyncio
import logging
import socket
from typing import Any

import pytest

from application.errors import ApplicationError
from domain.errors import InvalidInput
from domain.payment_status import PaymentStatus, payment_id_for
from entrypoints.http.errors import api_error
from tests.fake_stripe import FakeStripe, Reply
from tests.integration.stripe_helpers import TEST_KEY, memory_store, pay, purchase, stripe_at

pytestmark = pytest.mark.integration
PI = "/v1/payment_intents"


def card_error(code: str, decline_code: str | None, message: str) -> Reply:
    error = {"type": "card_error", "code": code, "message": message}
    if decline_code:
        error["decline_code"] = decline_code
    if decline_code == "do_not_honor":
        error["advice_code"] = ADVICE[decline_code]
    return Reply(status=402, error=error)


ADVICE = {"do_not_honor": "do_not_try_again"}


DECLINES = [
    ("card_declined", "insufficient_funds", "Your card has insufficient funds.",
     "INSUFFICIENT_FUNDS"),
    ("card_declined", "generic_decline", "Your card was declined.", "CARD_DECLINED"),
    ("card_declined", "do_not_honor", "Your card was declined.", "CARD_DECLINED"),
    ("expired_card", None, "Your card has expired.", "CARD_DECLINED"),
    ("incorrect_cvc", None, "Your card's security code is incorrect.", "CARD_DECLINED"),
    ("processing_error", None, "An error occurred while processing your card.", "CARD_DECLINED"),
]  # fmt: skip


def charge_failing_with(fake: FakeStripe, reply: Reply, **gateway: Any) -> tuple[Any, Any]:
    fake.reply("POST", PI, reply)
    store = memory_store()
    with pytest.raises(ApplicationError) as raised:
        pay(purchase(), store, stripe_at(fake.url, **gateway))
    payment = store.find(payment_id_for("user-1", "order-1"))
    return api_error(raised.value), payment


@pytest.mark.parametrize(("code", "decline_code", "message", "expected"), DECLINES)
def test_a_card_error_is_a_recorded_402(
    fake_stripe: FakeStripe, code: str, decline_code: str | None, message: str, expected: str
) -> None:
    error, payment = charge_failing_with(fake_stripe, card_error(code, decline_code, message))
    assert (error.status, error.code, error.message) == (402, expected, message)
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure == {
        "code": code,
        "decline_code": decline_code,
        "message": message,
        "advice_code": ADVICE.get(decline_code or ""),
    }
    assert payment.intent_id == next(iter(fake_stripe.intents))
    assert error.payment_id == str(payment.id)


@pytest.mark.parametrize(
    "stripe_error",
    [
        {"type": "invalid_request_error", "code": "resource_missing", "param": "payment_method",
         "message": "No such PaymentMethod: 'pm_gone'"},
        {"type": "invalid_request_error", "code": "payment_method_unactivated",
         "message": "The payment method is not activated."},
    ],
)  # fmt: skip
def test_an_unusable_payment_method_is_a_400(
    fake_stripe: FakeStripe, stripe_error: dict[str, str]
) -> None:
    error, payment = charge_failing_with(fake_stripe, Reply(400, stripe_error))
    assert (error.status, error.code) == (400, "PAYMENT_METHOD_ERROR")
    assert error.message == stripe_error["message"]
    assert payment.status is PaymentStatus.FAILED


@pytest.mark.parametrize(
    ("currency", "amount", "stripe_error"),
    [
        ("krw", 100, {"type": "invalid_request_error", "code": "amount_too_small",
                      "param": "amount", "message": "Amount must convert to at least 50 cents. "
                      "₩100 converts to approximately $0.07."}),
        ("idr", 5000, {"type": "invalid_request_error", "code": "amount_too_small",
                       "param": "amount", "message": "Amount must convert to at least 50 cents. "
                       "Rp50.00 converts to approximately $0.00."}),
        ("usd", 99_999_999, {"type": "invalid_request_error", "code": "amount_too_large",
                             "param": "amount",
                             "message": "Amount must be no more than $999,999.99"}),
    ],
    ids=["krw_below_minimum", "idr_below_minimum", "above_account_maximum"],
)  # fmt: skip
def test_an_amount_stripe_refuses_is_a_400_naming_the_amount_and_nothing_is_pending(
    fake_stripe: FakeStripe, currency: str, amount: int, stripe_error: dict[str, str]
) -> None:
    """Stripe validates the amount before it creates anything: its 400 is definite."""
    fake_stripe.reply("POST", PI, Reply(400, stripe_error))
    store, gateway = memory_store(), stripe_at(fake_stripe.url)
    cmd = purchase(currency=currency, amount=amount)
    with pytest.raises(InvalidInput) as refused:
        pay(cmd, store, gateway)
    with pytest.raises(InvalidInput) as replayed:
        pay(cmd, store, gateway)

    error = api_error(refused.value)
    assert (error.status, error.code) == (400, "VALIDATION_ERROR")
    assert error.message == f"amount: {stripe_error['message']}"
    assert api_error(replayed.value) == error
    assert len(fake_stripe.calls("POST", PI)) == 1  # the key answers; Stripe is not asked again
    payment = store.find(payment_id_for("user-1", "order-1"))
    assert payment is not None
    assert payment.status is PaymentStatus.FAILED  # not left pending for reconcile
    assert payment.intent_id is None and not fake_stripe.intents


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, {"type": "api_error", "message": "Something went wrong on Stripe's end."}),
        Reply(503, {"type": "api_error", "message": "Service unavailable."}),
        Reply(delay=3.0),
    ],
    ids=["api_error_500", "api_error_503", "read_timeout"],
)  # fmt: skip
def test_no_definite_answer_is_a_stripe_error_and_the_payment_stays_pending(
    fake_stripe: FakeStripe, reply: Reply
) -> None:
    error, payment = charge_failing_with(fake_stripe, reply, read_timeout=1.0)
    assert (error.status, error.code) == (500, "STRIPE_ERROR")
    assert payment.status is PaymentStatus.PENDING
    assert payment.failure is None


def test_an_unreachable_stripe_is_a_stripe_error_and_the_payment_stays_pending() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    store = memory_store()
    with pytest.raises(ApplicationError) as raised:
        pay(purchase(), store, stripe_at(url))
    assert (api_error(raised.value).status, api_error(raised.value).code) == (500, "STRIPE_ERROR")
    payment = store.find(payment_id_for("user-1", "order-1"))
    assert payment is not None and payment.status is PaymentStatus.PENDING


def test_a_rejected_key_is_a_stripe_error_and_a_loud_log_line_without_the_key(
    fake_stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    invalid_key = {"type": "invalid_request_error", "message": "Invalid API Key provided."}
    fake_stripe.reply("POST", "/v1/customers", Reply(401, invalid_key))
    store = memory_store()
    with caplog.at_level(logging.WARNING), pytest.raises(ApplicationError) as raised:
        pay(purchase(), store, stripe_at(fake_stripe.url))
    assert api_error(raised.value).code == "STRIPE_ERROR"
    loud = [r for r in caplog.records if r.levelno >= logging.CRITICAL]
    assert len(loud) == 1 and "STRIPE_SECRET_KEY" in loud[0].getMessage()
    assert TEST_KEY not in caplog.text
    payment = store.find(payment_id_for("user-1", "order-1"))
    assert payment is not None and payment.status is PaymentStatus.PENDING


def test_a_cancel_of_an_intent_stripe_does_not_have_answers_it_closed(
    fake_stripe: FakeStripe,
) -> None:
    """An intent of another account or mode (test ids after a switch to live keys): nobody can
    pay it, so a failed payment holding it is closed rather than retried on every run."""
    missing = {"type": "invalid_request_error", "code": "resource_missing",
               "message": "No such payment_intent: 'pi_gone'", "param": "intent"}  # fmt: skip
    fake_stripe.reply("POST", f"{PI}/pi_gone/cancel", Reply(404, missing))

    outcome = asyncio.run(stripe_at(fake_stripe.url).cancel_charge("pi_gone"))

    assert (outcome.intent_id, outcome.status) == ("pi_gone", "canceled")

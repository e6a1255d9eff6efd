"""The Stripe error table, row by row, on the error types stripe-python raises."""

import pytest
import stripe

from adapters.stripe_errors import Verdict, raise_for, verdict
from application.ports import GatewayRequestInFlight

ROWS = [
    (stripe.CardError("Your card was declined.", None, "card_declined"), Verdict.DECLINED),
    (stripe.CardError("Your card has expired.", None, "expired_card"), Verdict.DECLINED),
    (stripe.CardError("Incorrect CVC.", "cvc", "incorrect_cvc"), Verdict.DECLINED),
    (stripe.CardError("Try again.", None, "processing_error"), Verdict.DECLINED),
    (
        stripe.InvalidRequestError("No such PaymentMethod", "payment_method", "resource_missing"),
        Verdict.METHOD_UNUSABLE,
    ),
    (
        stripe.InvalidRequestError("Not activated", None, "payment_method_unactivated"),
        Verdict.METHOD_UNUSABLE,
    ),
    (stripe.InvalidRequestError("Not Found", None, http_status=404), Verdict.METHOD_UNUSABLE),
    (
        stripe.InvalidRequestError("No such customer", "customer", "resource_missing"),
        Verdict.UNKNOWN,
    ),
    (stripe.AuthenticationError("Invalid API Key provided"), Verdict.MISCONFIGURED),
    (stripe.PermissionError("The key lacks a permission"), Verdict.MISCONFIGURED),
    (stripe.RateLimitError("Too many requests", code="rate_limit"), Verdict.THROTTLED),
    (stripe.RateLimitError("Object locked", code="lock_timeout"), Verdict.THROTTLED),
    (stripe.APIConnectionError("Read timed out"), Verdict.UNKNOWN),
    (stripe.APIError("Something went wrong on Stripe's end"), Verdict.UNKNOWN),
    (stripe.IdempotencyError("Key reused with other parameters"), Verdict.UNKNOWN),
    (
        stripe.IdempotencyError("Another request with this key is in progress", http_status=409),
        Verdict.IN_FLIGHT,
    ),
    (stripe.InvalidRequestError("Conflict", None, http_status=409), Verdict.IN_FLIGHT),
    (
        stripe.InvalidRequestError("Amount must convert to at least 50 cents.", "amount",
                                   "amount_too_small", http_status=400),
        Verdict.AMOUNT_REFUSED,
    ),
    (
        stripe.InvalidRequestError("Currency ISK has become effectively zero-decimal", None,
                                   "invalid_charge_amount_no_decimal_compatible", http_status=400),
        Verdict.AMOUNT_REFUSED,
    ),
    (stripe.InvalidRequestError("amount too small", "amount", "amount_too_small"), Verdict.UNKNOWN),
    (
        stripe.InvalidRequestError("Invalid integer: 12.5", "amount", "parameter_invalid_integer",
                                   http_status=400),
        Verdict.UNKNOWN,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("error", "expected"), ROWS, ids=lambda v: type(v).__name__)
def test_each_stripe_error_has_one_verdict(error: stripe.StripeError, expected: Verdict) -> None:
    assert verdict(error) is expected


def test_a_request_still_running_at_stripe_is_reported_as_in_flight() -> None:
    error = stripe.IdempotencyError("Another request with this key is in progress", http_status=409)
    with pytest.raises(GatewayRequestInFlight):
        raise_for(error, "creating a PaymentIntent", charging=True)


def test_every_verdict_is_reached() -> None:
    assert {verdict(error) for error, _ in ROWS} == set(Verdict)

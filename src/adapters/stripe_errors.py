"""The one table that turns Stripe's errors into the gateway port's answers."""

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import NoReturn

import stripe

from application.ports import (
    AmountRefused,
    ChargeOutcome,
    Decline,
    GatewayRequestInFlight,
    GatewayThrottled,
    GatewayUnavailable,
    PaymentMethodUnusable,
)

log = logging.getLogger(__name__)

GENERIC_DECLINE = "Your card was declined."
UNUSABLE_METHOD = "This payment method cannot be used; choose another one."
PAYMENT_METHOD_PARAMS = {None, "payment_method"}
UNCHARGEABLE_AMOUNT = "Stripe cannot charge this amount in this currency."
AMOUNT_CODES = {
    "amount_too_small",
    "amount_too_large",
    "invalid_charge_amount",
    "invalid_charge_amount_no_decimal_compatible",
}


class Verdict(StrEnum):
    DECLINED = "declined"  # a definite no from the issuer: the payment fails
    METHOD_UNUSABLE = "method_unusable"  # nothing was charged; the customer picks another
    AMOUNT_REFUSED = "amount_refused"  # nothing was charged; the amount must change
    IN_FLIGHT = "in_flight"  # Stripe is still running a request with this idempotency key
    THROTTLED = "throttled"  # refused unprocessed (rate limit, lock timeout): try again later
    UNKNOWN = "unknown"  # Stripe may or may not have acted: the payment stays pending
    MISCONFIGURED = "misconfigured"  # our key is wrong: an operator must act


def _about_payment_method(error: stripe.StripeError) -> bool:
    if not isinstance(error, stripe.InvalidRequestError):
        return False
    code = error.code or ""
    if code.startswith("payment_method_"):
        return True
    missing = code == "resource_missing" or error.http_status == 404
    return missing and error.param in PAYMENT_METHOD_PARAMS


def _about_the_amount(error: stripe.StripeError) -> bool:
    """Stripe's validation of the amount: it refuses before creating anything (a 400 of ours
    about the amount, or one naming an intent, stays "unknown")."""
    if not isinstance(error, stripe.InvalidRequestError) or error.http_status != 400:
        return False
    made_an_intent = error.error is not None and error.error.payment_intent is not None
    return error.code in AMOUNT_CODES and not made_an_intent


# First match wins; every Stripe error reaches exactly one row.
TABLE: list[tuple[Callable[[stripe.StripeError], bool], Verdict]] = [
    (lambda e: isinstance(e, stripe.CardError), Verdict.DECLINED),
    (lambda e: e.http_status == 409, Verdict.IN_FLIGHT),
    (_about_the_amount, Verdict.AMOUNT_REFUSED),
    (_about_payment_method, Verdict.METHOD_UNUSABLE),
    (lambda e: isinstance(e, stripe.AuthenticationError), Verdict.MISCONFIGURED),
    (lambda e: isinstance(e, stripe.PermissionError), Verdict.MISCONFIGURED),
    (lambda e: isinstance(e, stripe.RateLimitError), Verdict.THROTTLED),
    (lambda e: e.code == "lock_timeout", Verdict.THROTTLED),
    (lambda e: isinstance(e, stripe.APIConnectionError), Verdict.UNKNOWN),
    (lambda e: isinstance(e, stripe.APIError), Verdict.UNKNOWN),
    (lambda e: True, Verdict.UNKNOWN),
]


def verdict(error: stripe.StripeError) -> Verdict:
    return next(v for matches, v in TABLE if matches(error))


def declined(error: stripe.StripeError) -> ChargeOutcome:
    """A card error as a failed charge, with Stripe's code and decline code for the history."""
    details = error.error
    intent = details.payment_intent if details is not None else None
    decline_code = details.decline_code if details is not None else None
    advice_code = details.advice_code if details is not None else None
    return ChargeOutcome(
        intent_id=intent.id if intent is not None else None,
        status="failed",
        decline=Decline(
            code=error.code or "card_declined",
            decline_code=decline_code,
            message=error.user_message or GENERIC_DECLINE,
            advice_code=advice_code,
        ),
    )


def raise_for(error: stripe.StripeError, doing: str, *, charging: bool = False) -> NoReturn:
    """Raise what the port promises for an error that is not a decline."""
    kind = verdict(error)
    if kind is Verdict.METHOD_UNUSABLE and charging:
        raise PaymentMethodUnusable(error.user_message or UNUSABLE_METHOD) from None
    if kind is Verdict.AMOUNT_REFUSED and charging:
        raise AmountRefused(error.user_message or UNCHARGEABLE_AMOUNT) from None
    if kind is Verdict.IN_FLIGHT:
        raise GatewayRequestInFlight(f"Stripe is still {doing} with this idempotency key") from None
    if kind is Verdict.THROTTLED:
        log.warning("Stripe refused %s for now: %s (code %s)", doing, error.http_status, error.code)
        raise GatewayThrottled(f"Stripe refused {doing} for now") from None
    if kind is Verdict.MISCONFIGURED:
        log.critical(
            "STRIPE_SECRET_KEY was rejected by Stripe (%s while %s): configure a valid secret "
            "key with the permissions this service needs",
            type(error).__name__, doing,
        )  # fmt: skip
    else:
        log.warning(
            "Stripe gave no definite answer while %s: %s (status %s, code %s, request %s)",
            doing, type(error).__name__, error.http_status, error.code, error.request_id,
        )  # fmt: skip
    raise GatewayUnavailable(f"Stripe did not answer while {doing}") from None

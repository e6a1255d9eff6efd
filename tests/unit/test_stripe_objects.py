"""Every PaymentIntent and Refund status Stripe documents, read as the port's outcome."""

from typing import Any

import pytest

from adapters.stripe_objects import intent_outcome, refund_outcome
from application.ports import Decline


def intent(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "pi_1", "status": status, "client_secret": "pi_1_secret_x", **fields}


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("succeeded", "succeeded"),
        ("processing", "processing"),
        ("requires_action", "requires_action"),
        ("requires_capture", "processing"),
        ("requires_confirmation", "pending"),
        ("requires_payment_method", "pending"),
        ("canceled", "canceled"),
        ("a_status_stripe_adds_later", "pending"),
    ],
)
def test_each_intent_status_maps_to_one_of_ours(stripe_status: str, ours: str) -> None:
    outcome = intent_outcome(intent(stripe_status))
    assert (outcome.intent_id, outcome.status, outcome.decline) == ("pi_1", ours, None)
    assert outcome.client_secret == "pi_1_secret_x"


def test_a_failed_attempt_is_a_decline_with_stripes_codes() -> None:
    error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    outcome = intent_outcome(intent("requires_payment_method", last_payment_error=error))
    assert outcome.status == "failed"
    assert outcome.decline == Decline(
        code="card_declined",
        decline_code="insufficient_funds",
        message="Your card has insufficient funds.",
    )


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("succeeded", "succeeded"),
        ("pending", "pending"),
        ("requires_action", "pending"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("a_status_stripe_adds_later", "pending"),
    ],
)
def test_each_refund_status_maps_to_one_of_ours(stripe_status: str, ours: str) -> None:
    outcome = refund_outcome({"id": "re_1", "status": stripe_status, "amount": 700})
    assert (outcome.refund_id, outcome.status, outcome.amount) == ("re_1", ours, 700)

"""Stripe's PaymentIntent and Refund states, read as the gateway port's outcomes."""

import logging
from typing import Any

from application.ports import ChargeOutcome, ChargeStatus, Decline, RefundOutcome, RefundStatus

log = logging.getLogger(__name__)

# Every PaymentIntent status Stripe documents. requires_payment_method is a failure only
# when an attempt failed (last_payment_error); before any attempt nothing happened yet.
INTENT_STATUS: dict[str, ChargeStatus] = {
    "succeeded": "succeeded",
    "processing": "processing",
    "requires_action": "requires_action",
    "requires_capture": "processing",
    "requires_confirmation": "pending",
    "requires_payment_method": "failed",
    "canceled": "canceled",
}

REFUND_STATUS: dict[str, RefundStatus] = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}


def as_dict(obj: Any) -> dict[str, Any]:
    """A StripeObject's fields as plain data."""
    data: dict[str, Any] = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return data


def intent_outcome(obj: Any) -> ChargeOutcome:
    intent = as_dict(obj)
    status = INTENT_STATUS.get(str(intent.get("status")))
    if status is None:
        log.warning("unknown PaymentIntent status %r: left pending", intent.get("status"))
        status = "pending"
    decline = None
    error = intent.get("last_payment_error")
    if status == "failed":
        if error is None:
            status = "pending"
        else:
            decline = Decline(
                code=error.get("code") or "card_declined",
                decline_code=error.get("decline_code"),
                message=error.get("message") or "Your card was declined.",
            )
    secret = intent.get("client_secret")
    return ChargeOutcome(
        intent_id=str(intent["id"]),
        status=status,
        client_secret=str(secret) if secret else None,
        decline=decline,
    )


def refund_outcome(obj: Any) -> RefundOutcome:
    refund = as_dict(obj)
    status = REFUND_STATUS.get(str(refund.get("status")))
    if status is None:
        log.warning("unknown Refund status %r: left pending", refund.get("status"))
        status = "pending"
    return RefundOutcome(refund_id=str(refund["id"]), status=status, amount=int(refund["amount"]))


def metadata_of(obj: Any) -> dict[str, str]:
    metadata: dict[str, str] = as_dict(obj).get("metadata") or {}
    return metadata

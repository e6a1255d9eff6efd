"""What each Stripe event type means for a payment, as commands on the aggregate."""

from collections.abc import Callable, Mapping
from typing import Any

from domain.errors import InvalidInput
from domain.payment import Payment

StripeObject = Mapping[str, Any]


def text(obj: StripeObject, key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"data.object.{key}", "must be a non-empty string")
    return value


def optional_text(obj: StripeObject, key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def amount(obj: StripeObject, key: str = "amount") -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"data.object.{key}", "must be a whole number of minor units")
    return value


def metadata(obj: StripeObject) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def intent_id_of(obj: StripeObject) -> str | None:
    """The PaymentIntent an object belongs to: itself, or the charge/refund/dispute's intent."""
    if obj.get("object") == "payment_intent":
        return text(obj, "id")
    return optional_text(obj, "payment_intent")


def _succeeded(payment: Payment, intent: StripeObject) -> None:
    payment.record_intent(text(intent, "id"))
    payment.mark_succeeded()


def _failed(payment: Payment, intent: StripeObject) -> None:
    payment.record_intent(text(intent, "id"))
    error = intent.get("last_payment_error")
    error = error if isinstance(error, Mapping) else {}
    payment.mark_failed(
        optional_text(error, "code") or "payment_failed",
        optional_text(error, "decline_code"),
        optional_text(error, "message") or "The payment could not be completed.",
        optional_text(error, "advice_code"),
    )


def _processing(payment: Payment, intent: StripeObject) -> None:
    payment.record_intent(text(intent, "id"))
    payment.mark_processing()


def _requires_action(payment: Payment, intent: StripeObject) -> None:
    payment.record_intent(text(intent, "id"))
    payment.mark_requires_action()


def _canceled(payment: Payment, intent: StripeObject) -> None:
    payment.record_intent(text(intent, "id"))
    payment.mark_canceled(optional_text(intent, "cancellation_reason"))


def _refund_number(payment: Payment, refund: StripeObject) -> int | None:
    """Our refund number, which our refund requests carry in the refund's metadata."""
    meta = metadata(refund)
    number = meta.get("refund_number")
    if meta.get("payment_id") != str(payment.id) or not isinstance(number, str):
        return None
    return int(number) if number.isdecimal() else None


def _refund(payment: Payment, refund: StripeObject) -> None:
    number = _refund_number(payment, refund)
    refund_id, value, status = text(refund, "id"), amount(refund), refund.get("status")
    if status == "succeeded":
        payment.record_refund(number, refund_id, value)
    elif status in ("failed", "canceled"):
        payment.record_refund_failure(number, refund_id, value)
    else:  # pending, requires_action: the money is on its way back
        payment.mark_refund_pending(number, refund_id, value)


def _charge_refunded(payment: Payment, charge: StripeObject) -> None:
    refunds = charge.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, Mapping) else None
    for refund in listed if isinstance(listed, list) else []:
        if isinstance(refund, Mapping):
            _refund(payment, refund)


def _dispute_created(payment: Payment, dispute: StripeObject) -> None:
    reason = optional_text(dispute, "reason") or "general"
    payment.open_dispute(text(dispute, "id"), amount(dispute), reason)


def _dispute_closed(payment: Payment, dispute: StripeObject) -> None:
    payment.close_dispute(text(dispute, "id"), optional_text(dispute, "status") or "closed")


PAYMENT_COMMANDS: dict[str, Callable[[Payment, StripeObject], None]] = {
    "payment_intent.succeeded": _succeeded,
    "payment_intent.payment_failed": _failed,
    "payment_intent.processing": _processing,
    "payment_intent.requires_action": _requires_action,
    "payment_intent.canceled": _canceled,
    "charge.refunded": _charge_refunded,
    "refund.created": _refund,
    "refund.updated": _refund,
    "refund.failed": _refund,
    "charge.refund.updated": _refund,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
}

# Saved payment methods have no aggregate yet: these are acknowledged, kept and counted.
# Applied to the owner's wallet when the event names one of our Customers; kept otherwise.
ACKNOWLEDGED_TYPES = frozenset(
    {
        "payment_method.attached",
        "payment_method.detached",
        "payment_method.updated",
        "payment_method.automatically_updated",
    }
)

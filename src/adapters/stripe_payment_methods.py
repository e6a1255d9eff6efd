"""Payment methods at Stripe: attach to the user's Customer, detach, and read Stripe's events."""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe

from adapters.stripe_errors import raise_for
from adapters.stripe_objects import as_dict
from application.payment_method_events import PaymentMethodChange
from application.ports import CardCheckDeclined, PaymentMethodNotFound, PaymentMethodUnusable
from domain.saved_card import SavedCard

log = logging.getLogger(__name__)
CHANGE_KINDS = {
    "payment_method.attached": "attached",
    "payment_method.detached": "detached",
    "payment_method.updated": "updated",
    "payment_method.automatically_updated": "updated",  # the card network's updater
}


async def attach(v1: Any, payment_method_id: str, customer_id: str) -> SavedCard:
    """Retrieve first: Stripe turns a test id into a new method, and the owner is checked."""
    try:
        method = as_dict(await v1.payment_methods.retrieve_async(payment_method_id))
    except stripe.InvalidRequestError as error:
        if error.http_status == 404 or error.code == "resource_missing":
            raise PaymentMethodNotFound(payment_method_id) from None
        raise_for(error, "retrieving a payment method", charging=True)
    except stripe.StripeError as error:
        raise_for(error, "retrieving a payment method", charging=True)
    owner = _customer_id(method.get("customer"))
    if owner is not None and owner != customer_id:
        raise PaymentMethodNotFound(payment_method_id)
    if method.get("type") != "card":
        raise PaymentMethodUnusable("Only cards can be saved.")
    if owner is None:
        try:
            pm_id = str(method["id"])
            method = as_dict(
                await v1.payment_methods.attach_async(
                    pm_id, {"customer": customer_id}, {"idempotency_key": f"attach-{pm_id}"}
                )
            )
        except stripe.CardError as error:
            raise CardCheckDeclined(error.user_message or "Your card was declined.") from None
        except stripe.StripeError as error:
            raise_for(error, "attaching a payment method", charging=True)
    return saved_card(method)


async def detach(v1: Any, payment_method_id: str) -> None:
    try:
        await v1.payment_methods.detach_async(payment_method_id)
    except stripe.InvalidRequestError as error:
        # Not attached (any more) or unknown: the method is not on the Customer, as wanted.
        log.info("payment method %s was already detached (%s)", payment_method_id, error.code)
    except stripe.StripeError as error:
        raise_for(error, "detaching a payment method")


def saved_card(method: Mapping[str, Any]) -> SavedCard:
    card = method["card"]
    return SavedCard(
        payment_method_id=str(method["id"]),
        brand=str(card.get("brand") or "unknown"),
        last4=str(card["last4"]),
        exp_month=int(card["exp_month"]),
        exp_year=int(card["exp_year"]),
        fingerprint=card.get("fingerprint"),
        created_at=datetime.fromtimestamp(int(method["created"]), UTC),
    )


def payment_method_change(event: Mapping[str, Any]) -> PaymentMethodChange | None:
    """A Stripe event as the wallet's change, or None if it is not a payment_method.* event."""
    event = as_dict(event)
    kind = CHANGE_KINDS.get(str(event.get("type")))
    if kind is None:
        return None
    data = event["data"]
    method = data["object"]
    customer = _customer_id(method.get("customer"))
    if customer is None:
        customer = _customer_id((data.get("previous_attributes") or {}).get("customer"))
    return PaymentMethodChange(
        kind=kind,  # type: ignore[arg-type]
        occurred_at=datetime.fromtimestamp(int(event["created"]), UTC),
        payment_method_id=str(method["id"]),
        customer_id=customer,
        card=saved_card(method) if method.get("type") == "card" and method.get("card") else None,
    )


def _customer_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return str(value["id"])
    return str(value)

"""Stripe events shaped like the real ones, signed with Stripe's scheme."""

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from tests.conftest import WEBHOOK_SECRET

Obj = dict[str, Any]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def event(event_type: str, obj: Obj, *, event_id: str | None = None, created: int = 0) -> Obj:
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": created or int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def payment_intent(
    intent_id: str,
    status: str,
    *,
    amount: int = 2500,
    currency: str = "usd",
    payment_id: str | None = None,
    error: Obj | None = None,
    cancellation_reason: str | None = None,
) -> Obj:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": currency,
        "status": status,
        "metadata": {"payment_id": payment_id} if payment_id else {},
        "last_payment_error": error,
        "cancellation_reason": cancellation_reason,
        "latest_charge": "ch_" + intent_id.removeprefix("pi_"),
        "livemode": False,
    }


def refund(
    refund_id: str,
    intent_id: str,
    amount: int,
    status: str,
    *,
    payment_id: str | None = None,
    number: int | None = None,
) -> Obj:
    metadata = {"payment_id": payment_id, "refund_number": str(number)} if number else {}
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": "ch_" + intent_id.removeprefix("pi_"),
        "currency": "usd",
        "payment_intent": intent_id,
        "status": status,
        "reason": None,
        "metadata": metadata,
    }


def charge_refunded(intent_id: str, amount: int, refunds: list[Obj]) -> Obj:
    return {
        "id": "ch_" + intent_id.removeprefix("pi_"),
        "object": "charge",
        "amount": amount,
        "amount_refunded": sum(r["amount"] for r in refunds if r["status"] == "succeeded"),
        "payment_intent": intent_id,
        "refunded": True,
        "status": "succeeded",
        "metadata": {},
        "refunds": {"object": "list", "data": refunds, "has_more": False},
    }


def dispute(dispute_id: str, intent_id: str, amount: int, status: str) -> Obj:
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "charge": "ch_" + intent_id.removeprefix("pi_"),
        "currency": "usd",
        "payment_intent": intent_id,
        "reason": "fraudulent",
        "status": status,
    }


def payment_method(
    pm_id: str,
    customer: str | None,
    *,
    created: int = 1_767_225_600,
    exp: tuple[int, int] = (12, 2030),
    fingerprint: str = "fp_visa_4242",
) -> Obj:
    card = {
        "brand": "visa",
        "last4": "4242",
        "exp_month": exp[0],
        "exp_year": exp[1],
        "fingerprint": fingerprint,
    }
    return {
        "id": pm_id,
        "object": "payment_method",
        "type": "card",
        "created": created,
        "customer": customer,
        "card": card,
    }


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe's scheme: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def signed(evt: Obj, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, Any]:
    """Keyword arguments for a client's post(): the body and Stripe's headers."""
    body = json.dumps(evt).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature(body, secret, timestamp),
    }
    return {"content": body, "headers": headers}

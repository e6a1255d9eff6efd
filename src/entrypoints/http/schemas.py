"""Request and response bodies of the HTTP API (camelCase on the wire)."""

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from application.queries import PaymentDetails
from domain.card_data import find_card_data
from domain.money import MAX_AMOUNT, SUPPORTED

Amount = Annotated[int, Meta(gt=0, le=MAX_AMOUNT, description="Integer minor units")]
Currency = Annotated[
    str,
    Meta(
        pattern="^[a-z]{3}$",
        extra_json_schema={
            "description": "ISO 4217, lowercase, one Stripe settles in",
            "extra": {"enum": sorted(SUPPORTED)},  # documented; the domain gives the error
        },
    ),
]
ShortText = Annotated[str, Meta(min_length=1, max_length=255)]
StripeId = Annotated[str, Meta(min_length=3, max_length=255, pattern="^[A-Za-z0-9_]+$")]
MetadataKey = Annotated[str, Meta(min_length=1, max_length=40)]
MetadataValue = Annotated[str, Meta(max_length=500)]
Reason = Annotated[str, Meta(max_length=500)]
StatusName = Literal[
    "pending", "requires_action", "processing", "succeeded", "failed", "canceled",
    "partially_refunded", "refunded",
]  # fmt: skip


class NoCardData(Struct):
    """Refuses any body that carries a card number or CVC, naming where it was."""

    def __post_init__(self) -> None:
        # A body is decoded twice per request (the strict check, then the handler's own):
        # one found clean a moment ago is not looked through again.
        encoded = type(self).__name__.encode() + msgspec.json.encode(self)
        if encoded in _CLEAN_BODIES:
            return
        body = msgspec.to_builtins(self)
        where = find_card_data(body)
        if where is not None:
            raise ValueError(f"{where.removeprefix('$.')}: card data is not accepted")
        where = _find_nul(body)
        if where is not None:  # PostgreSQL text cannot hold it: the read model would stall
            raise ValueError(f"{where}: must not contain NUL characters")
        if len(_CLEAN_BODIES) >= CLEAN_BODIES_KEPT:
            _CLEAN_BODIES.clear()
        _CLEAN_BODIES[encoded] = None


CLEAN_BODIES_KEPT = 1024
_CLEAN_BODIES: dict[bytes, None] = {}  # bodies found clean (forgotten all at once when full)


def _find_nul(value: object, path: str = "body") -> str | None:
    """Where a NUL character is, by field (a key carrying one is reported as its object)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = str(key) if path == "body" else f"{path}.{key}"
            found = (path if "\x00" in str(key) else None) or _find_nul(item, where)
            if found:
                return found
    return None


class ProcessPaymentBody(NoCardData, rename="camel", forbid_unknown_fields=True, kw_only=True):
    amount: Amount
    currency: Currency
    payment_method_id: StripeId | None = None
    course_id: ShortText | None = None
    metadata: Annotated[dict[MetadataKey, MetadataValue], Meta(max_length=50)] | None = None


class ProcessPaymentResponse(Struct, rename="camel"):
    success: bool
    payment_id: str
    stripe_payment_intent_id: str | None
    status: str
    client_secret: str | None


class RefundBody(NoCardData, rename="camel", forbid_unknown_fields=True, kw_only=True):
    payment_id: Annotated[str, Meta(min_length=1, max_length=64)]
    amount: Amount | None = None
    reason: Reason | None = None


class RefundResponse(Struct, rename="camel"):
    success: bool
    payment_id: str
    refund_id: str | None
    amount: int
    status: str


class PaymentSummary(Struct, rename="camel"):
    id: str
    user_id: str
    amount: int
    currency: str
    status: str
    refunded_amount: int
    course_id: str | None
    created_at: datetime
    updated_at: datetime


class HistoryResponse(Struct, rename="camel"):
    payments: list[PaymentSummary]
    total: int
    limit: int
    offset: int


class RefundOut(Struct, rename="camel"):
    refund_id: str | None
    amount: int
    status: str
    reason: str | None


class PaymentDetailsResponse(Struct, rename="camel"):
    id: str
    user_id: str
    amount: int
    currency: str
    status: str
    refunded_amount: int
    course_id: str | None
    metadata: dict[str, str]
    stripe_payment_intent_id: str | None
    created_at: datetime
    updated_at: datetime
    refunds: list[RefundOut]
    failure_code: str | None
    failure_message: str | None


class ErrorDetail(Struct):
    code: str
    message: str


class ErrorResponse(Struct, rename="camel", omit_defaults=True):
    success: bool
    error: ErrorDetail
    payment_id: str | None = None


def details_response(payment: PaymentDetails) -> PaymentDetailsResponse:
    """A payment as its owner reads it: over HTTP and in outbound events."""
    return PaymentDetailsResponse(
        id=payment.id,
        user_id=payment.user_id,
        amount=payment.amount,
        currency=payment.currency,
        status=payment.status,
        refunded_amount=payment.refunded_amount,
        course_id=payment.course_id,
        metadata=payment.metadata,
        stripe_payment_intent_id=payment.intent_id,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        refunds=[
            RefundOut(refund_id=r.refund_id, amount=r.amount, status=r.state, reason=r.reason)
            for r in payment.refunds
        ],
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
    )

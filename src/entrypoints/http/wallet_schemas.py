"""Bodies of the payment-method routes (camelCase on the wire)."""

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

from entrypoints.http.schemas import NoCardData

PaymentMethodId = Annotated[
    str,
    Meta(
        min_length=4,
        max_length=255,
        pattern="^pm_[A-Za-z0-9_]+$",
        description="A PaymentMethod id made by Stripe.js (pm_...)",
    ),
]


class AddPaymentMethodBody(NoCardData, rename="camel", forbid_unknown_fields=True, kw_only=True):
    payment_method_id: PaymentMethodId
    set_default: bool = False


class PaymentMethodOut(Struct, rename="camel"):
    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool
    is_expired: bool
    created_at: datetime


class PaymentMethodsResponse(Struct, rename="camel"):
    payment_methods: list[PaymentMethodOut]

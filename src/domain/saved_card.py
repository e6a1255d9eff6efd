"""A card saved at Stripe as the wallet knows it: Stripe's references, never card data."""

import re
from dataclasses import dataclass
from datetime import date, datetime

_LAST4 = re.compile(r"^\d{4}$")


@dataclass(frozen=True, kw_only=True)
class SavedCard:
    """What Stripe returns about a card payment method; the full number never reaches us."""

    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str | None
    created_at: datetime

    def __post_init__(self) -> None:
        if not _LAST4.match(self.last4):
            raise ValueError("last4 must be exactly four digits")
        if not 1 <= self.exp_month <= 12:
            raise ValueError("exp_month must be 1-12")

    def expired(self, today: date) -> bool:
        """A card is valid through the last day of its expiry month."""
        return (self.exp_year, self.exp_month) < (today.year, today.month)

    def same_card(self, other: "SavedCard") -> bool:
        return self.fingerprint is not None and self.fingerprint == other.fingerprint

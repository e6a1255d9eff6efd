"""Stripe's payment_method.* events keep each wallet true when a card changes elsewhere."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from application.ports import WalletStore
from application.wallet_changes import change_wallet
from domain.saved_card import SavedCard
from domain.wallet import Wallet

ChangeKind = Literal["attached", "detached", "updated"]
Outcome = Literal["applied", "ignored"]


@dataclass(frozen=True, kw_only=True)
class PaymentMethodChange:
    """One payment_method.* event: its type, Stripe's `created` time and the object's fields.

    `customer_id` is the Customer the method belongs (or, once detached, belonged) to;
    `card` is None when the method is not a card.
    """

    kind: ChangeKind
    occurred_at: datetime
    payment_method_id: str
    customer_id: str | None
    card: SavedCard | None


def record_change(wallet: Wallet, change: PaymentMethodChange) -> None:
    """The change as facts on the owner's wallet; facts it already holds record nothing."""
    if change.kind == "detached":
        wallet.record_detached(change.payment_method_id)
    elif change.card is not None:
        wallet.record_card(change.card, as_of=change.occurred_at)


def apply_payment_method_event(change: PaymentMethodChange, *, wallets: WalletStore) -> Outcome:
    """Record the change in the owner's wallet; any order of delivery gives the same wallet."""
    owner = wallets.find_by_customer(change.customer_id) if change.customer_id else None
    if owner is None or (change.kind != "detached" and change.card is None):
        return "ignored"
    change_wallet(wallets, owner.user_id, lambda wallet: record_change(wallet, change))
    return "applied"

"""The user's saved cards as they see them: newest first, the default and expired ones flagged."""

from dataclasses import dataclass
from datetime import date

from application.ports import Clock, WalletStore
from domain.saved_card import SavedCard
from domain.wallet import Wallet


@dataclass(frozen=True, kw_only=True)
class WalletEntry:
    card: SavedCard
    is_default: bool
    is_expired: bool


def entry_for(wallet: Wallet, card: SavedCard, today: date) -> WalletEntry:
    default = wallet.default
    return WalletEntry(
        card=card,
        is_default=default is not None and default.payment_method_id == card.payment_method_id,
        is_expired=card.expired(today),
    )


def list_payment_methods(user_id: str, *, wallets: WalletStore, clock: Clock) -> list[WalletEntry]:
    wallet = wallets.find(user_id)
    if wallet is None:
        return []
    today = clock.now().date()
    return [entry_for(wallet, card, today) for card in wallet.newest_first()]

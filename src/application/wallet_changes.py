"""Load, change, save a user's wallet: retried when another writer got there first."""

from collections.abc import Callable
from typing import TypeVar

from application.errors import ConcurrencyConflict
from application.ports import WalletStore
from domain.wallet import Wallet

T = TypeVar("T")
MAX_ATTEMPTS = 8


def change_wallet(wallets: WalletStore, user_id: str, change: Callable[[Wallet], T]) -> T:
    """Apply `change` to the latest wallet (a new one if the user has none yet)."""
    for attempt in range(MAX_ATTEMPTS):
        wallet = wallets.find(user_id) or Wallet(user_id=user_id)
        result = change(wallet)
        try:
            wallets.save(wallet)
        except ConcurrencyConflict:
            if attempt == MAX_ATTEMPTS - 1:
                raise
            continue
        return result
    raise AssertionError("unreachable")

"""The user's Stripe Customer: created on first need, remembered in their wallet."""

from application.errors import ConcurrencyConflict
from application.ports import PaymentGateway, WalletStore
from domain.customer_link import CustomerLink
from domain.wallet import Wallet, wallet_id_for

MAX_ATTEMPTS = 4


def customer_for(
    user_id: str, *, wallets: WalletStore, gateway: PaymentGateway, known: Wallet | None = None
) -> str:
    """The Customer id recorded for the user, creating and recording one the first time.

    `known` is the user's wallet as the caller just loaded it; a conflict reloads it.
    """
    for _ in range(MAX_ATTEMPTS):
        wallet = known or wallets.find(user_id) or Wallet(user_id=user_id)
        known = None
        if wallet.customer_id is not None:
            return wallet.customer_id
        # Keyed by the wallet, so concurrent first charges of one user get one Customer.
        customer_id = gateway.create_customer(user_id, f"customer-{wallet_id_for(user_id)}")
        wallet.record_customer(customer_id)
        try:
            wallets.save(wallet, CustomerLink(customer_id=customer_id, user_id=user_id))
        except ConcurrencyConflict:
            continue  # another request recorded the Customer first: use theirs
        return customer_id
    raise ConcurrencyConflict("the wallet kept changing while its Customer was recorded")

"""The user's Stripe Customer: created on first need, remembered in their wallet."""

import asyncio
from functools import partial

from application.deadlines import NO_DEADLINE, Deadline
from application.errors import ConcurrencyConflict
from application.ports import PaymentGateway, WalletStore
from application.provider_calls import call_provider
from domain.customer_link import CustomerLink
from domain.wallet import Wallet, wallet_id_for

MAX_ATTEMPTS = 4


async def customer_for(
    user_id: str,
    *,
    wallets: WalletStore,
    gateway: PaymentGateway,
    known: Wallet | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> str:
    """The Customer id recorded for the user, creating and recording one the first time.

    `known` is the user's wallet as the caller just loaded it; a conflict reloads it.
    """
    for _ in range(MAX_ATTEMPTS):
        wallet = known or await asyncio.to_thread(wallets.find, user_id) or Wallet(user_id=user_id)
        known = None
        if wallet.customer_id is not None:
            return wallet.customer_id
        # Keyed by the wallet, so concurrent first charges of one user get one Customer.
        key = f"customer-{wallet_id_for(user_id)}"
        customer_id = await call_provider(partial(gateway.create_customer, user_id, key), deadline)
        wallet.record_customer(customer_id)
        try:
            link = CustomerLink(customer_id=customer_id, user_id=user_id)
            await asyncio.to_thread(wallets.save, wallet, link)
        except ConcurrencyConflict:
            continue  # another request recorded the Customer first: use theirs
        return customer_id
    raise ConcurrencyConflict("the wallet kept changing while its Customer was recorded")

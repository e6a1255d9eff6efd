"""Which payment method a charge uses: a card saved in the wallet, or Stripe's test methods."""

from application.errors import PaymentMethodRejected
from domain.wallet import Wallet

# Stripe's documented test payment methods; Stripe itself refuses them in live mode.
TEST_METHOD_PREFIX = "pm_card_"
NO_DEFAULT = "You have no default payment method; add a card or choose one."
NOT_SAVED = "This payment method is not saved in your wallet; add it first."


def payment_method_to_charge(wallet: Wallet | None, requested: str | None) -> str:
    """The requested method if the user may charge it, else the wallet's default."""
    if requested is None:
        default = wallet.default if wallet is not None else None
        if default is None:
            raise PaymentMethodRejected(NO_DEFAULT)
        return default.payment_method_id
    if requested.startswith(TEST_METHOD_PREFIX):
        return requested
    if wallet is None or requested not in wallet.cards:
        raise PaymentMethodRejected(NOT_SAVED)
    return requested

"""Save, remove and choose the user's cards: Stripe holds each card, the wallet its references."""

import asyncio
import logging
from dataclasses import dataclass

from application.customers import customer_for
from application.errors import CardNotAccepted, GatewayError, NotFound, PaymentMethodRejected
from application.ports import (
    CardCheckDeclined,
    Clock,
    GatewayUnavailable,
    PaymentGateway,
    PaymentMethodNotFound,
    PaymentMethodUnusable,
    WalletStore,
)
from application.wallet_changes import change_wallet
from application.wallet_queries import WalletEntry, entry_for
from domain.saved_card import SavedCard
from domain.wallet import Wallet

log = logging.getLogger(__name__)
NO_ANSWER = "the payment provider did not answer; retry shortly"
REMOVED = "This payment method was removed from your wallet; add the card again."


@dataclass(frozen=True, kw_only=True)
class AddPaymentMethod:
    user_id: str
    payment_method_id: str
    set_default: bool = False


@dataclass(frozen=True, kw_only=True)
class RemovePaymentMethod:
    user_id: str
    payment_method_id: str


@dataclass(frozen=True, kw_only=True)
class ChooseDefaultPaymentMethod:
    user_id: str
    payment_method_id: str


async def add_payment_method(
    cmd: AddPaymentMethod, *, wallets: WalletStore, gateway: PaymentGateway, clock: Clock
) -> WalletEntry:
    """Attach the method to the user's Customer and save the card Stripe describes."""
    wallet = await asyncio.to_thread(wallets.find, cmd.user_id)
    if wallet is not None and cmd.payment_method_id in wallet.detached:
        raise PaymentMethodRejected(REMOVED)
    if wallet is not None and cmd.payment_method_id in wallet.cards:
        card = wallet.cards[cmd.payment_method_id]
    else:
        card = await _attach(cmd, wallets=wallets, gateway=gateway)
    now = clock.now()

    def save(wallet: Wallet) -> WalletEntry | None:
        wallet.keep_default()  # a card saved now takes the default only when asked to
        entry = wallet.record_card(card, as_of=now)
        if entry is None:
            return None
        if cmd.set_default:
            wallet.choose_default(entry.payment_method_id)
        wallet.keep_default()
        return entry_for(wallet, entry, now.date())

    saved = await asyncio.to_thread(change_wallet, wallets, cmd.user_id, save)
    if saved is None:
        raise PaymentMethodRejected(REMOVED)
    if saved.card.payment_method_id != card.payment_method_id:
        await _detach_duplicate(gateway, card.payment_method_id)
    log.info(
        "payment method %s saved in the wallet of %s", saved.card.payment_method_id, cmd.user_id
    )
    return saved


async def _attach(
    cmd: AddPaymentMethod, *, wallets: WalletStore, gateway: PaymentGateway
) -> SavedCard:
    try:
        customer_id = await customer_for(cmd.user_id, wallets=wallets, gateway=gateway)
        return await gateway.attach_payment_method(cmd.payment_method_id, customer_id)
    except PaymentMethodNotFound:
        raise NotFound("payment method not found") from None
    except PaymentMethodUnusable as error:
        raise PaymentMethodRejected(str(error) or "This payment method cannot be used.") from None
    except CardCheckDeclined as error:
        raise CardNotAccepted(str(error) or "Your card was declined.") from None
    except GatewayUnavailable:
        raise GatewayError(NO_ANSWER) from None


async def _detach_duplicate(gateway: PaymentGateway, payment_method_id: str) -> None:
    """The card was saved already: keep one payment method per card at Stripe too."""
    try:
        await gateway.detach_payment_method(payment_method_id)
    except GatewayUnavailable:
        log.warning(
            "could not detach duplicate payment method %s; left at Stripe", payment_method_id
        )


async def remove_payment_method(
    cmd: RemovePaymentMethod, *, wallets: WalletStore, gateway: PaymentGateway
) -> None:
    """Detach at Stripe first, so that a removed card can never be charged again."""
    wallet = await asyncio.to_thread(wallets.find, cmd.user_id)
    if wallet is None or cmd.payment_method_id not in wallet.cards:
        raise NotFound("payment method not found")
    try:
        await gateway.detach_payment_method(cmd.payment_method_id)
    except GatewayUnavailable:
        raise GatewayError(NO_ANSWER) from None

    def forget(wallet: Wallet) -> None:
        wallet.record_detached(cmd.payment_method_id)
        wallet.keep_default()  # the newest remaining card becomes the default, for good

    await asyncio.to_thread(change_wallet, wallets, cmd.user_id, forget)
    log.info("payment method %s removed from the wallet of %s", cmd.payment_method_id, cmd.user_id)


def choose_default_payment_method(
    cmd: ChooseDefaultPaymentMethod, *, wallets: WalletStore, clock: Clock
) -> WalletEntry:
    if wallets.find(cmd.user_id) is None:
        raise NotFound("payment method not found")

    def choose(wallet: Wallet) -> WalletEntry:
        card = wallet.cards.get(cmd.payment_method_id)
        if card is None:
            raise NotFound("payment method not found")
        wallet.choose_default(card.payment_method_id)
        return entry_for(wallet, card, clock.now().date())

    return change_wallet(wallets, cmd.user_id, choose)

"""Use cases wired the way the service wires them, for tests that only care about one port."""

import asyncio

from adapters.eventstore import EventSourcedPaymentStore
from adapters.wallet_store import EventSourcedWalletStore
from application.ports import PaymentGateway
from application.process_payment import PaymentReceipt, ProcessPayment, process_payment


def pay(
    cmd: ProcessPayment, *, store: EventSourcedPaymentStore, gateway: PaymentGateway
) -> PaymentReceipt:
    """process_payment with the wallets kept in the payments' event store, run to its end."""
    wallets = EventSourcedWalletStore(store.app)
    return asyncio.run(process_payment(cmd, store=store, gateway=gateway, wallets=wallets))

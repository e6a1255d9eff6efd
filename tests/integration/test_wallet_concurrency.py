"""One user saving cards at the same moment, on PostgreSQL: none lost, one Customer."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from adapters.clock import SystemClock
from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.simulated_gateway import SimulatedGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.payment_methods import AddPaymentMethod, add_payment_method
from application.wallet_queries import list_payment_methods

pytestmark = pytest.mark.integration
METHODS = ["pm_card_visa", "pm_card_mastercard", "pm_card_amex", "pm_card_visa_debit"]


def test_cards_saved_at_once_are_all_kept(postgres_url: str, tmp_path: Any) -> None:
    store = EventSourcedPaymentStore.from_env(persistence_env(postgres_url, tmp_path / "x.db"))
    wallets, gateway, clock = EventSourcedWalletStore(store.app), SimulatedGateway(), SystemClock()

    def save(pm_id: str) -> str:
        cmd = AddPaymentMethod(user_id="u1", payment_method_id=pm_id)
        return asyncio.run(
            add_payment_method(cmd, wallets=wallets, gateway=gateway, clock=clock)
        ).card.last4

    try:
        with ThreadPoolExecutor(max_workers=len(METHODS)) as pool:
            saved = list(pool.map(save, METHODS))
        entries = list_payment_methods("u1", wallets=wallets, clock=clock)
        assert (
            sorted(e.card.last4 for e in entries)
            == sorted(saved)
            == ["0005", "4242", "4444", "5556"]
        )
        assert sum(e.is_default for e in entries) == 1
        wallet = wallets.find("u1")
        assert wallet is not None
        assert set(gateway._customers.values()) == {wallet.customer_id}
        assert wallets.find_by_customer(str(wallet.customer_id)) is not None
    finally:
        store.close()

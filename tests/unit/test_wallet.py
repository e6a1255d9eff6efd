"""The Wallet aggregate and the user's Stripe Customer, created once and remembered."""

import asyncio

from adapters.eventstore import EventSourcedPaymentStore
from adapters.simulated_gateway import SimulatedGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.customers import customer_for
from application.process_payment import ProcessPayment, process_payment
from domain.wallet import Wallet, wallet_id_for


def test_a_users_wallet_has_one_id_and_remembers_the_first_customer() -> None:
    wallet = Wallet(user_id="u1")
    assert wallet.id == wallet_id_for("u1") != wallet_id_for("u2")
    wallet.record_customer("cus_1")
    wallet.record_customer("cus_2")
    events = wallet.collect_events()
    assert [type(e) for e in events] == [Wallet.Opened, Wallet.CustomerCreated]
    assert wallet.customer_id == "cus_1"


def test_every_charge_of_a_user_carries_the_same_customer(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    wallets = EventSourcedWalletStore(store.app)
    for user, key in (("u1", "a"), ("u1", "b"), ("u2", "a")):
        asyncio.run(process_payment(
            ProcessPayment(
                user_id=user, amount=1000, currency="usd", payment_method_id="pm_card_visa",
                idempotency_key=key,
            ),
            store=store, gateway=gateway, wallets=wallets,
        ))  # fmt: skip
    customers = [c.customer_id for c in gateway.charge_calls]
    assert customers[0] == customers[1] != customers[2]
    assert all(c and c.startswith("cus_sim_") for c in customers)
    recorded = wallets.find("u1")
    assert recorded is not None and recorded.customer_id == customers[0]


class StaleFirstRead(EventSourcedWalletStore):
    """A reader that missed the wallet another request saved a moment ago."""

    stale = True

    def find(self, user_id: str) -> Wallet | None:
        if self.stale:
            self.stale = False
            return None
        return super().find(user_id)


def test_when_two_first_charges_race_the_customer_recorded_first_wins(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    theirs = Wallet(user_id="u1")
    theirs.record_customer("cus_theirs")
    EventSourcedWalletStore(store.app).save(theirs)

    assert (
        asyncio.run(customer_for("u1", wallets=StaleFirstRead(store.app), gateway=gateway))
        == "cus_theirs"
    )


def test_a_stale_wallet_from_the_caller_loses_to_the_customer_recorded_first(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    wallets = EventSourcedWalletStore(store.app)
    loaded_before = Wallet(user_id="u1")  # what the charge loaded, before the race
    theirs = Wallet(user_id="u1")
    theirs.record_customer("cus_theirs")
    wallets.save(theirs)

    assert (
        asyncio.run(customer_for("u1", wallets=wallets, gateway=gateway, known=loaded_before))
        == "cus_theirs"
    )
    recorded = wallets.find("u1")
    assert recorded is not None and recorded.customer_id == "cus_theirs"

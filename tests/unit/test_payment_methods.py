"""Saving, removing and choosing cards, and charging them: use cases on the simulated gateway."""

import asyncio
from datetime import UTC, datetime

import pytest

from adapters.eventstore import EventSourcedPaymentStore
from adapters.simulated_gateway import SimulatedGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.errors import CardNotAccepted, GatewayError, NotFound, PaymentMethodRejected
from application.payment_methods import (
    AddPaymentMethod,
    ChooseDefaultPaymentMethod,
    RemovePaymentMethod,
    add_payment_method,
    choose_default_payment_method,
    remove_payment_method,
)
from application.ports import GatewayUnavailable
from application.process_payment import ProcessPayment, process_payment
from application.wallet_queries import WalletEntry, list_payment_methods
from domain.saved_card import SavedCard


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


class Wallets:
    """The user's side of the wallet, as the routes drive it."""

    def __init__(self, store: EventSourcedPaymentStore, gateway: SimulatedGateway) -> None:
        self.store, self.gateway = store, gateway
        self.wallets = EventSourcedWalletStore(store.app)
        self.clock = FixedClock(datetime.now(UTC))

    def add(self, user: str, pm_id: str, *, default: bool = False) -> WalletEntry:
        cmd = AddPaymentMethod(user_id=user, payment_method_id=pm_id, set_default=default)
        return asyncio.run(
            add_payment_method(cmd, wallets=self.wallets, gateway=self.gateway, clock=self.clock)
        )

    def remove(self, user: str, pm_id: str) -> None:
        cmd = RemovePaymentMethod(user_id=user, payment_method_id=pm_id)
        asyncio.run(remove_payment_method(cmd, wallets=self.wallets, gateway=self.gateway))

    def choose(self, user: str, pm_id: str) -> WalletEntry:
        cmd = ChooseDefaultPaymentMethod(user_id=user, payment_method_id=pm_id)
        return choose_default_payment_method(cmd, wallets=self.wallets, clock=self.clock)

    def listing(self, user: str) -> list[tuple[str, bool]]:
        entries = list_payment_methods(user, wallets=self.wallets, clock=self.clock)
        return [(e.card.last4, e.is_default) for e in entries]

    def pay(self, user: str, pm_id: str | None, key: str | None = None) -> str:
        cmd = ProcessPayment(
            user_id=user, amount=1500, currency="usd", payment_method_id=pm_id,
            idempotency_key=key,
        )  # fmt: skip
        asyncio.run(
            process_payment(cmd, store=self.store, gateway=self.gateway, wallets=self.wallets)
        )
        return self.gateway.charge_calls[-1].payment_method_id


@pytest.fixture
def cards(store: EventSourcedPaymentStore, gateway: SimulatedGateway) -> Wallets:
    return Wallets(store, gateway)


def test_the_first_card_is_the_default_and_later_ones_only_when_asked(cards: Wallets) -> None:
    visa = cards.add("u1", "pm_card_visa")
    assert visa.card.payment_method_id.startswith("pm_sim_")
    assert (visa.card.brand, visa.card.last4, visa.is_default) == ("visa", "4242", True)
    cards.add("u1", "pm_card_mastercard")
    assert cards.listing("u1") == [("4444", False), ("4242", True)]
    cards.add("u1", "pm_card_amex", default=True)
    assert cards.listing("u1") == [("0005", True), ("4444", False), ("4242", False)]


def test_the_same_card_saved_twice_is_one_entry_and_one_method_at_stripe(cards: Wallets) -> None:
    first = cards.add("u1", "pm_card_visa")
    second = cards.add("u1", "pm_card_visa")
    assert second.card == first.card
    assert cards.listing("u1") == [("4242", True)]
    duplicates = [
        pm for pm, m in cards.gateway.cards._methods.items() if pm != first.card.payment_method_id
    ]
    assert [cards.gateway.cards._methods[pm].detached for pm in duplicates] == [True]


def test_saving_a_saved_method_again_changes_nothing_but_the_default(cards: Wallets) -> None:
    visa = cards.add("u1", "pm_card_visa").card.payment_method_id
    cards.add("u1", "pm_card_mastercard", default=True)
    again = cards.add("u1", visa, default=True)
    assert again.is_default
    assert cards.listing("u1") == [("4444", False), ("4242", True)]


def test_a_card_the_issuer_declines_is_not_saved(cards: Wallets) -> None:
    with pytest.raises(CardNotAccepted, match="declined"):
        cards.add("u1", "pm_card_chargeDeclined")
    assert cards.listing("u1") == []


def test_an_unknown_or_another_users_method_is_not_found(cards: Wallets) -> None:
    theirs = cards.add("u2", "pm_card_visa").card.payment_method_id
    for pm_id in (theirs, "pm_does_not_exist"):
        with pytest.raises(NotFound):
            cards.add("u1", pm_id)
        with pytest.raises(NotFound):
            cards.remove("u1", pm_id)
        with pytest.raises(NotFound):
            cards.choose("u1", pm_id)
    assert cards.listing("u1") == []
    assert cards.listing("u2") == [("4242", True)]


def test_removing_the_default_promotes_the_newest_remaining_card(cards: Wallets) -> None:
    visa = cards.add("u1", "pm_card_visa").card.payment_method_id
    mastercard = cards.add("u1", "pm_card_mastercard").card.payment_method_id
    amex = cards.add("u1", "pm_card_amex").card.payment_method_id
    cards.remove("u1", visa)
    assert cards.listing("u1") == [("0005", True), ("4444", False)]
    cards.choose("u1", mastercard)
    cards.remove("u1", amex)
    cards.remove("u1", mastercard)
    assert cards.listing("u1") == []
    assert cards.gateway.cards._methods[visa].detached
    with pytest.raises(PaymentMethodRejected, match="removed"):
        cards.add("u1", visa)


def test_a_charge_without_a_method_uses_the_default_card(cards: Wallets) -> None:
    with pytest.raises(PaymentMethodRejected, match="no default"):
        cards.pay("u1", None)
    cards.add("u1", "pm_card_visa")
    amex = cards.add("u1", "pm_card_amex", default=True).card.payment_method_id
    assert cards.pay("u1", None) == amex


def test_only_saved_cards_and_stripes_test_methods_can_be_charged(cards: Wallets) -> None:
    theirs = cards.add("u2", "pm_card_visa").card.payment_method_id
    mine = cards.add("u1", "pm_card_mastercard").card.payment_method_id
    assert cards.pay("u1", mine) == mine
    assert cards.pay("u1", "pm_card_amex") == "pm_card_amex"
    with pytest.raises(PaymentMethodRejected, match="not saved"):
        cards.pay("u1", theirs)
    cards.remove("u1", mine)
    calls = len(cards.gateway.charge_calls)
    for pm_id in (mine, None):
        with pytest.raises(PaymentMethodRejected):
            cards.pay("u1", pm_id, key=f"after-removal-{pm_id}")
    assert len(cards.gateway.charge_calls) == calls


def test_the_derived_key_follows_the_card_a_default_charge_resolves_to(cards: Wallets) -> None:
    visa = cards.add("u1", "pm_card_visa").card.payment_method_id
    cards.pay("u1", None)
    cards.pay("u1", None)
    assert len({c.payment_id for c in cards.gateway.charge_calls}) == 1
    amex = cards.add("u1", "pm_card_amex", default=True).card.payment_method_id
    cards.pay("u1", None)
    paid_with = [c.payment_method_id for c in cards.gateway.charge_calls]
    assert len({c.payment_id for c in cards.gateway.charge_calls}) == 2
    assert (paid_with[0], paid_with[-1]) == (visa, amex)


def test_a_replay_with_its_key_answers_as_the_first_request_did(cards: Wallets) -> None:
    visa = cards.add("u1", "pm_card_visa").card.payment_method_id
    cards.pay("u1", None, key="order-7")
    cards.add("u1", "pm_card_amex", default=True)
    cards.remove("u1", visa)
    cards.pay("u1", None, key="order-7")
    assert len({c.payment_id for c in cards.gateway.charge_calls}) == 1


def test_a_replay_answers_as_the_first_request_did_when_no_card_is_left(cards: Wallets) -> None:
    visa = cards.add("u1", "pm_card_visa").card.payment_method_id
    first = cards.pay("u1", None, key="order-8")
    cards.remove("u1", visa)
    assert cards.pay("u1", None, key="order-8") == first
    assert len(cards.gateway.charge_calls) == 1
    with pytest.raises(PaymentMethodRejected):
        cards.pay("u1", None, key="order-9")  # a new key has no card to charge


def test_an_expired_card_is_flagged_in_the_listing(cards: Wallets) -> None:
    cards.add("u1", "pm_card_visa")
    cards.clock.moment = datetime(2035, 1, 1, tzinfo=UTC)
    entries = list_payment_methods("u1", wallets=cards.wallets, clock=cards.clock)
    assert [(e.card.exp_year, e.is_expired) for e in entries] == [(2034, True)]


class StripeDown(SimulatedGateway):
    """Stripe gives no answer to attach or detach calls."""

    async def attach_payment_method(self, payment_method_id: str, customer_id: str) -> SavedCard:
        raise GatewayUnavailable("read timed out")

    async def detach_payment_method(self, payment_method_id: str) -> None:
        raise GatewayUnavailable("read timed out")


def test_without_stripes_answer_nothing_changes(store: EventSourcedPaymentStore) -> None:
    up = Wallets(store, SimulatedGateway())
    visa = up.add("u1", "pm_card_visa").card.payment_method_id
    down = Wallets(store, StripeDown())
    with pytest.raises(GatewayError):
        down.add("u1", "pm_card_mastercard")
    with pytest.raises(GatewayError):
        down.remove("u1", visa)
    assert down.listing("u1") == [("4242", True)]

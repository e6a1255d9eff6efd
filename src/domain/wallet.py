"""The Wallet aggregate: what Stripe knows of one user (their Customer, their cards), as events."""

from dataclasses import replace
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import PaymentMethodNotSaved
from domain.saved_card import SavedCard

WALLET_NAMESPACE = UUID("2b0c4f7e-8a51-4c36-9d1e-5f3a7b9c0e42")


def wallet_id_for(user_id: str) -> UUID:
    """The one wallet a user can ever have."""
    return uuid5(WALLET_NAMESPACE, user_id)


class Wallet(Aggregate):
    """One user's Stripe Customer; the first Customer recorded is the user's for good."""

    class Opened(Aggregate.Created):
        user_id: str

    class CustomerCreated(Aggregate.Event):
        customer_id: str

    class PaymentMethodAttached(Aggregate.Event):
        payment_method_id: str
        brand: str
        last4: str
        exp_month: int
        exp_year: int
        fingerprint: str | None
        created_at: datetime
        as_of: datetime

    class PaymentMethodUpdated(Aggregate.Event):
        payment_method_id: str
        exp_month: int
        exp_year: int
        as_of: datetime

    class PaymentMethodDetached(Aggregate.Event):
        payment_method_id: str

    class DefaultPaymentMethodChanged(Aggregate.Event):
        payment_method_id: str | None

    @staticmethod
    def create_id(user_id: str) -> UUID:
        return wallet_id_for(user_id)

    @event(Opened)
    def __init__(self, *, user_id: str) -> None:
        self.user_id = user_id
        self.customer_id: str | None = None
        self.cards: dict[str, SavedCard] = {}
        self.detached: set[str] = set()
        self.chosen_default: str | None = None
        self._as_of: dict[str, datetime] = {}

    def record_customer(self, customer_id: str) -> None:
        if self.customer_id is None:
            self._customer_created(customer_id=customer_id)

    @event(CustomerCreated)
    def _customer_created(self, customer_id: str) -> None:
        self.customer_id = customer_id

    # Stripe never re-attaches a detached payment method, so a detached id stays out for good;
    # that and `as_of` make attach, update and detach facts commute, whatever their order.
    def record_card(self, card: SavedCard, *, as_of: datetime) -> SavedCard | None:
        """The wallet's entry for `card` (one entry per card), or None if it was detached."""
        pm_id = card.payment_method_id
        if pm_id in self.detached:
            return None
        known = self.cards.get(pm_id)
        if known is not None:
            newer = as_of > self._as_of[pm_id]
            if newer and (known.exp_month, known.exp_year) != (card.exp_month, card.exp_year):
                self._updated(pm_id, card.exp_month, card.exp_year, as_of)
            return self.cards[pm_id]
        twin = next((c for c in self.cards.values() if c.same_card(card)), None)
        if twin is not None:
            return twin
        self._attached(
            pm_id, card.brand, card.last4, card.exp_month, card.exp_year,
            card.fingerprint, card.created_at, as_of,
        )  # fmt: skip
        return self.cards[pm_id]

    def record_detached(self, payment_method_id: str) -> None:
        if payment_method_id not in self.detached:
            self._detached(payment_method_id)

    def choose_default(self, payment_method_id: str) -> None:
        if payment_method_id not in self.cards:
            raise PaymentMethodNotSaved("payment method not found")
        if self.chosen_default != payment_method_id:
            self._default_changed(payment_method_id)

    def keep_default(self) -> None:
        """Pin the current default, so that a card added later does not take its place."""
        current = self.default
        if current is not None:
            self.choose_default(current.payment_method_id)

    @property
    def default(self) -> SavedCard | None:
        """The chosen card while it is saved; otherwise the newest card, or none."""
        if self.chosen_default in self.cards:
            return self.cards[self.chosen_default]
        cards = self.newest_first()
        return cards[0] if cards else None

    def newest_first(self) -> list[SavedCard]:
        """By Stripe's creation time (whole seconds), then by the order they were saved."""
        saved = list(self.cards.values())
        return sorted(saved, key=lambda c: (c.created_at, saved.index(c)), reverse=True)

    @event(PaymentMethodAttached)
    def _attached(
        self, payment_method_id: str, brand: str, last4: str, exp_month: int, exp_year: int,
        fingerprint: str | None, created_at: datetime, as_of: datetime,
    ) -> None:  # fmt: skip
        self.cards[payment_method_id] = SavedCard(
            payment_method_id=payment_method_id, brand=brand, last4=last4,
            exp_month=exp_month, exp_year=exp_year, fingerprint=fingerprint,
            created_at=created_at,
        )  # fmt: skip
        self._as_of[payment_method_id] = as_of

    @event(PaymentMethodUpdated)
    def _updated(
        self, payment_method_id: str, exp_month: int, exp_year: int, as_of: datetime
    ) -> None:
        card = self.cards[payment_method_id]
        self.cards[payment_method_id] = replace(card, exp_month=exp_month, exp_year=exp_year)
        self._as_of[payment_method_id] = as_of

    @event(PaymentMethodDetached)
    def _detached(self, payment_method_id: str) -> None:
        self.cards.pop(payment_method_id, None)
        self._as_of.pop(payment_method_id, None)
        self.detached.add(payment_method_id)
        if self.chosen_default == payment_method_id:
            self.chosen_default = None

    @event(DefaultPaymentMethodChanged)
    def _default_changed(self, payment_method_id: str | None) -> None:
        self.chosen_default = payment_method_id

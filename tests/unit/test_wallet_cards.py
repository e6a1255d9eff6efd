"""The Wallet's cards: given events, when a command, then the events and the state."""

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import PaymentMethodNotSaved
from domain.saved_card import SavedCard
from domain.wallet import Wallet

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def card(
    pm_id: str, fingerprint: str | None = None, minutes: int = 0, **fields: object
) -> SavedCard:
    values: dict[str, object] = {
        "payment_method_id": pm_id,
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
        "fingerprint": fingerprint or f"fp-{pm_id}",
        "created_at": T0 + timedelta(minutes=minutes),
    }
    values.update(fields)
    return SavedCard(**values)  # type: ignore[arg-type]


def event_names(wallet: Wallet) -> list[str]:
    return [type(e).__name__ for e in wallet.collect_events()]


def test_a_card_is_recorded_with_only_what_stripe_returns() -> None:
    wallet = Wallet(user_id="u1")
    wallet.record_card(card("pm_1"), as_of=T0)
    attached = wallet.collect_events()[-1]
    assert isinstance(attached, Wallet.PaymentMethodAttached)
    fields = set(vars(attached)) - {"originator_id", "originator_version", "timestamp"}
    assert fields == {
        "payment_method_id", "brand", "last4", "exp_month", "exp_year", "fingerprint",
        "created_at", "as_of",
    }  # fmt: skip


def test_the_same_card_twice_is_one_entry() -> None:
    wallet = Wallet(user_id="u1")
    first = wallet.record_card(card("pm_1", "fp-same"), as_of=T0)
    again = wallet.record_card(card("pm_1", "fp-same"), as_of=T0)
    twin = wallet.record_card(card("pm_2", "fp-same", minutes=5), as_of=T0)
    assert first == again == twin
    assert list(wallet.cards) == ["pm_1"]
    assert event_names(wallet) == ["Opened", "PaymentMethodAttached"]


def test_without_a_choice_the_newest_card_is_the_default() -> None:
    wallet = Wallet(user_id="u1")
    assert wallet.default is None
    wallet.record_card(card("pm_old"), as_of=T0)
    wallet.record_card(card("pm_new", minutes=1), as_of=T0)
    assert wallet.default is not None and wallet.default.payment_method_id == "pm_new"
    wallet.choose_default("pm_old")
    wallet.record_card(card("pm_newer", minutes=2), as_of=T0)
    assert wallet.default.payment_method_id == "pm_old"
    assert [c.payment_method_id for c in wallet.newest_first()] == ["pm_newer", "pm_new", "pm_old"]


def test_detaching_the_default_promotes_the_newest_remaining_card_or_none() -> None:
    wallet = Wallet(user_id="u1")
    for n in range(3):
        wallet.record_card(card(f"pm_{n}", minutes=n), as_of=T0)
    wallet.choose_default("pm_0")
    wallet.record_detached("pm_0")
    wallet.keep_default()
    assert wallet.default is not None and wallet.default.payment_method_id == "pm_2"
    assert wallet.chosen_default == "pm_2"
    wallet.record_detached("pm_2")
    wallet.record_detached("pm_1")
    wallet.keep_default()
    assert wallet.default is None and wallet.cards == {}


def test_a_detached_card_never_comes_back_and_repeats_are_no_ops() -> None:
    wallet = Wallet(user_id="u1")
    wallet.record_card(card("pm_1"), as_of=T0)
    wallet.collect_events()
    wallet.record_detached("pm_1")
    wallet.record_detached("pm_1")
    assert wallet.record_card(card("pm_1"), as_of=T0 + timedelta(days=1)) is None
    assert event_names(wallet) == ["PaymentMethodDetached"]
    assert "pm_1" not in wallet.cards


def test_only_a_newer_expiry_replaces_the_known_one() -> None:
    wallet = Wallet(user_id="u1")
    wallet.record_card(card("pm_1"), as_of=T0)
    wallet.collect_events()
    wallet.record_card(card("pm_1", exp_year=2031), as_of=T0 + timedelta(minutes=2))
    wallet.record_card(card("pm_1", exp_year=2029), as_of=T0 + timedelta(minutes=1))
    assert event_names(wallet) == ["PaymentMethodUpdated"]
    assert wallet.cards["pm_1"].exp_year == 2031


def test_choosing_a_card_that_is_not_saved_is_refused() -> None:
    wallet = Wallet(user_id="u1")
    wallet.record_card(card("pm_1"), as_of=T0)
    wallet.choose_default("pm_1")
    wallet.collect_events()
    wallet.choose_default("pm_1")
    assert wallet.collect_events() == []
    with pytest.raises(PaymentMethodNotSaved):
        wallet.choose_default("pm_other")


@pytest.mark.parametrize(
    ("today", "expired"),
    [(date(2030, 12, 31), False), (date(2031, 1, 1), True), (date(2029, 1, 1), False)],
)
def test_a_card_expires_after_its_expiry_month(today: date, expired: bool) -> None:
    assert card("pm_1", exp_month=12, exp_year=2030).expired(today) is expired


@pytest.mark.parametrize("last4", ["4242424242424242", "42", "abcd"])
def test_a_saved_card_holds_four_digits_at_most(last4: str) -> None:
    with pytest.raises(ValueError, match="last4"):
        card("pm_1", last4=last4)

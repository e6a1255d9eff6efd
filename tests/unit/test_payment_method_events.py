"""Stripe's payment_method.* webhooks keep the wallet true, in whatever order they arrive."""

import asyncio
import itertools
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.eventstore import EventSourcedPaymentStore, PaymentsApplication
from adapters.simulated_gateway import SimulatedGateway
from adapters.stripe_payment_methods import payment_method_change
from adapters.wallet_store import EventSourcedWalletStore
from application.customers import customer_for
from application.payment_method_events import apply_payment_method_event

CREATED = 1_767_225_600  # 2026-01-01T00:00:00Z


def pm_object(
    pm_id: str, customer: str | None, *, exp_year: int = 2030, created: int = 0
) -> dict[str, Any]:
    """A PaymentMethod as Stripe's API reference shows it (card fields trimmed)."""
    return {
        "id": pm_id,
        "object": "payment_method",
        "type": "card",
        "created": CREATED + created,
        "customer": customer,
        "livemode": False,
        "card": {
            "brand": "visa",
            "last4": "4242",
            "exp_month": 8,
            "exp_year": exp_year,
            "fingerprint": f"fp{pm_id}",
            "funding": "credit",
            "country": "US",
        },
    }


def stripe_event(
    n: int, kind: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": f"evt_{n}", "object": "event", "type": f"payment_method.{kind}",
            "created": CREATED + 60 * n, "data": data}  # fmt: skip


def history(customer: str) -> list[dict[str, Any]]:
    """Cards added, updated and removed at Stripe (a dashboard, a reissued card)."""
    return [
        stripe_event(1, "attached", pm_object("pm_a", customer, created=1)),
        stripe_event(2, "attached", pm_object("pm_b", customer, created=2)),
        stripe_event(
            3,
            "updated",
            pm_object("pm_a", customer, exp_year=2031, created=1),
            {"card": {"exp_year": 2030}},
        ),
        stripe_event(4, "attached", pm_object("pm_c", customer, created=4)),
        stripe_event(5, "detached", pm_object("pm_b", None, created=2), {"customer": customer}),
        stripe_event(
            6,
            "updated",
            pm_object("pm_a", customer, exp_year=2032, created=1),
            {"card": {"exp_year": 2031}},
        ),
        stripe_event(7, "attached", pm_object("pm_d", customer, created=7)),
        stripe_event(8, "detached", pm_object("pm_d", None, created=7), {"customer": customer}),
    ]


def wallet_after(order: list[int]) -> tuple[object, ...]:
    """The wallet once the history's events at positions `order` were delivered, in that order."""
    store = EventSourcedPaymentStore(PaymentsApplication(env={"PERSISTENCE_MODULE": ""}))
    wallets = EventSourcedWalletStore(store.app)
    customer = asyncio.run(customer_for("u1", wallets=wallets, gateway=SimulatedGateway()))
    events = history(customer)
    for event in [events[i] for i in order]:
        change = payment_method_change(event)
        assert change is not None
        apply_payment_method_event(change, wallets=wallets)
        apply_payment_method_event(change, wallets=wallets)  # Stripe delivers at least once
    wallet = wallets.find("u1")
    assert wallet is not None
    default = wallet.default
    return (
        [(c.payment_method_id, c.exp_month, c.exp_year) for c in wallet.newest_first()],
        default.payment_method_id if default else None,
    )


IN_ORDER = list(range(8))


def test_in_order_the_wallet_follows_stripe() -> None:
    assert wallet_after(IN_ORDER) == (
        [("pm_c", 8, 2030), ("pm_a", 8, 2032)],
        "pm_c",
    )


@pytest.mark.parametrize("seed", range(12))
def test_any_order_gives_the_same_wallet(seed: int) -> None:
    order = IN_ORDER.copy()
    random.Random(seed).shuffle(order)
    assert wallet_after(order) == wallet_after(IN_ORDER)


def test_every_order_of_attach_update_detach_gives_the_same_wallet() -> None:
    about_a_and_b = [0, 1, 2, 4, 5]  # attach a, attach b, update a, detach b, update a
    results = {str(wallet_after(list(order))) for order in itertools.permutations(about_a_and_b)}
    assert results == {str(([("pm_a", 8, 2032)], "pm_a"))}


def test_a_stranger_customer_or_another_event_type_changes_nothing() -> None:
    store = EventSourcedPaymentStore(PaymentsApplication(env={"PERSISTENCE_MODULE": ""}))
    wallets = EventSourcedWalletStore(store.app)
    stranger = payment_method_change(stripe_event(1, "attached", pm_object("pm_z", "cus_nobody")))
    assert stranger is not None
    assert apply_payment_method_event(stranger, wallets=wallets) == "ignored"
    assert (
        payment_method_change({"type": "charge.succeeded", "created": CREATED, "data": {}}) is None
    )


def test_a_change_carries_only_stripes_card_references() -> None:
    change = payment_method_change(stripe_event(1, "attached", pm_object("pm_a", "cus_1")))
    assert change is not None and change.card is not None
    assert change.kind == "attached" and change.customer_id == "cus_1"
    assert change.occurred_at == datetime.fromtimestamp(CREATED + 60, UTC)
    assert (change.card.last4, change.card.exp_month, change.card.fingerprint) == (
        "4242",
        8,
        "fppm_a",
    )


def test_an_update_by_the_card_network_is_an_update() -> None:
    event = stripe_event(1, "automatically_updated", pm_object("pm_a", "cus_1", exp_year=2033))
    change = payment_method_change(event)
    assert change is not None and change.kind == "updated"
    assert change.card is not None and change.card.exp_year == 2033

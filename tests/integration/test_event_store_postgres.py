"""The event store on real PostgreSQL: the unique version constraint is the durable guard."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

import pytest

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.simulated_gateway import SimulatedGateway
from application.actors import Actor
from application.errors import ConcurrencyConflict
from application.process_payment import ProcessPayment
from application.refund_payment import RefundPayment, refund_payment
from domain.errors import AlreadyRefunded, InvalidInput
from domain.payment import Payment
from tests.wiring import pay

pytestmark = pytest.mark.integration
ADMIN = Actor("admin", frozenset({"admin"}))


@pytest.fixture
def store(postgres_url: str, tmp_path: Path) -> EventSourcedPaymentStore:
    return EventSourcedPaymentStore.from_env(persistence_env(postgres_url, tmp_path / "x.db"))


def test_two_writers_of_one_version_conflict(store: EventSourcedPaymentStore) -> None:
    gateway = SimulatedGateway()
    receipt = pay(
        ProcessPayment(user_id="u", amount=1000, currency="usd", payment_method_id="pm_card_visa"),
        store=store,
        gateway=gateway,
    )
    one = store.find(UUID(receipt.payment_id))
    two = store.find(UUID(receipt.payment_id))
    assert isinstance(one, Payment) and isinstance(two, Payment)
    one.request_refund(100, None)
    two.request_refund(100, None)
    store.save(one)
    with pytest.raises(ConcurrencyConflict):
        store.save(two)


def test_concurrent_refunds_never_exceed_the_amount(store: EventSourcedPaymentStore) -> None:
    gateway = SimulatedGateway()
    receipt = pay(
        ProcessPayment(user_id="u", amount=1000, currency="usd", payment_method_id="pm_card_visa"),
        store=store,
        gateway=gateway,
    )
    payment_id = UUID(receipt.payment_id)

    def attempt(_: int) -> str:
        try:
            asyncio.run(
                refund_payment(
                    RefundPayment(actor=ADMIN, payment_id=payment_id, amount=300),
                    store=store,
                    gateway=gateway,
                )
            )
        except (InvalidInput, AlreadyRefunded):
            return "refused"
        return "refunded"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))

    payment = store.find(payment_id)
    assert payment is not None
    assert outcomes.count("refunded") == 3
    assert payment.refunded_amount == 900
    assert sum(call.amount for call in gateway.refund_calls) == 900

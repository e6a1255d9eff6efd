"""Stripe refuses a second request while one with the same idempotency key runs: that is a 409."""

import asyncio
from uuid import UUID

import pytest

from adapters.eventstore import EventSourcedPaymentStore
from adapters.simulated_gateway import SimulatedGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.errors import IdempotencyConflict
from application.ports import (
    ChargeOutcome,
    ChargeRequest,
    GatewayRequestInFlight,
    RefundOutcome,
    RefundRequest,
)
from application.process_payment import ProcessPayment, process_payment
from application.refund_payment import RefundPayment, refund_payment
from domain.payment_status import PaymentStatus, payment_id_for
from tests.unit.test_refund_and_history import ADMIN, paid


class BusyOnce(SimulatedGateway):
    """Answers the first call as Stripe does while another request holds the key."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = {"charge": 1, "refund": 1}

    def _refuse(self, what: str) -> None:
        if self.busy[what]:
            self.busy[what] -= 1
            raise GatewayRequestInFlight("another request with this key is in progress")

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        self._refuse("charge")
        return await super().charge(request)

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        self._refuse("refund")
        return await super().refund(request)


def test_a_charge_stripe_is_still_running_is_a_conflict_and_the_retry_completes_it(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = BusyOnce()
    cmd = ProcessPayment(
        user_id="u",
        amount=900,
        currency="usd",
        payment_method_id="pm_card_visa",
        idempotency_key="k",
    )
    with pytest.raises(IdempotencyConflict):
        asyncio.run(
            process_payment(
                cmd, store=store, gateway=gateway, wallets=EventSourcedWalletStore(store.app)
            )
        )
    pending = store.find(payment_id_for("u", "k"))
    assert pending is not None and pending.status is PaymentStatus.PENDING
    assert (
        asyncio.run(
            process_payment(
                cmd, store=store, gateway=gateway, wallets=EventSourcedWalletStore(store.app)
            )
        ).status
        == "succeeded"
    )
    assert len(gateway.charge_calls) == 1


def test_a_refund_stripe_is_still_running_is_a_conflict_and_the_retry_completes_it(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = BusyOnce()
    gateway.busy["charge"] = 0
    payment_id: UUID = paid(store, gateway)
    cmd = RefundPayment(actor=ADMIN, payment_id=payment_id, amount=300, idempotency_key="r")
    with pytest.raises(IdempotencyConflict):
        asyncio.run(refund_payment(cmd, store=store, gateway=gateway))
    assert asyncio.run(refund_payment(cmd, store=store, gateway=gateway)).amount == 300
    assert store.find(payment_id).refunded_amount == 300  # type: ignore[union-attr]

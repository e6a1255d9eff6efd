"""A retried refund asks Stripe before sending again; one Stripe never took in is released."""

import asyncio
from dataclasses import replace
from uuid import UUID

import pytest

from adapters.eventstore import EventSourcedPaymentStore
from adapters.simulated_gateway import SimulatedGateway
from application.deadlines import Deadline
from application.errors import GatewayError, ServiceUnavailable
from application.ports import (
    GatewayThrottled,
    GatewayUnavailable,
    RefundOutcome,
    RefundRequest,
    RefundStatus,
)
from application.provider_calls import NOT_STARTED, THROTTLED
from application.refund_payment import NOT_REFUNDED, RefundPayment, refund_payment
from domain.payment import Payment
from domain.payment_status import RefundState
from tests.unit.test_refund_and_history import ADMIN, paid
from tests.unit.test_refund_idempotency import keyed

PASSED = Deadline(0.0)


class SlowBank(SimulatedGateway):
    """Stripe accepting refunds as pending; `settle` is the bank's later word on one."""

    def __init__(self) -> None:
        super().__init__()
        self.at_stripe: dict[tuple[UUID, int], RefundOutcome] = {}
        self.lookups = 0
        self.down = False

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        outcome = replace(await super().refund(request), status="pending")
        assert request.number is not None
        self.at_stripe.setdefault((request.payment_id, request.number), outcome)
        return self.at_stripe[(request.payment_id, request.number)]

    async def find_refund(
        self, intent_id: str, payment_id: UUID, number: int
    ) -> RefundOutcome | None:
        self.lookups += 1
        if self.down:
            raise GatewayUnavailable("read timed out")
        return self.at_stripe.get((payment_id, number))

    def settle(self, payment_id: UUID, number: int, status: RefundStatus) -> None:
        key = (payment_id, number)
        self.at_stripe[key] = replace(self.at_stripe[key], status=status)


class NeverReached(SimulatedGateway):
    """The first refund request is lost on the way: Stripe never sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 1

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        if self.lost:
            self.lost -= 1
            raise GatewayUnavailable("connection reset")
        return await super().refund(request)


class Throttled(SimulatedGateway):
    """Stripe answering every refund 429, slowly enough that the deadline allows no retry."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.refusals = 0
        self.throttling = True

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        if not self.throttling:
            return await super().refund(request)
        await asyncio.sleep(self.delay)
        self.refusals += 1
        raise GatewayThrottled("rate limited")


def refused_for_429s(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway, payment_id: UUID
) -> None:
    """A keyed refund of 400 answered 503: Stripe's 429s outlasted its 0.2 s deadline."""
    with pytest.raises(ServiceUnavailable, match=THROTTLED):
        asyncio.run(
            refund_payment(
                keyed(payment_id, "r-1"),
                store=store,
                gateway=gateway,
                deadline=Deadline.after(0.2),
            )
        )


def stored(store: EventSourcedPaymentStore, payment_id: UUID) -> Payment:
    payment = store.find(payment_id)
    assert payment is not None
    return payment


def keyless(payment_id: UUID, amount: int | None) -> RefundPayment:
    return RefundPayment(actor=ADMIN, payment_id=payment_id, amount=amount)


# -- a retry asks Stripe first -----------------------------------------------------------


def test_a_retry_of_a_refund_pending_at_stripe_takes_its_outcome_and_sends_nothing(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = SlowBank()
    payment_id = paid(store, gateway)
    first = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    assert stored(store, payment_id).refunds[1].state is RefundState.PENDING
    gateway.settle(payment_id, 1, "succeeded")

    again = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))

    assert len(gateway.refund_calls) == 1
    assert again.refund_id == first.refund_id
    assert (again.amount, again.status) == (400, "partially_refunded")
    payment = stored(store, payment_id)
    assert (payment.refunded_amount, payment.reserved_amount) == (400, 0)


def test_a_retry_of_a_refund_stripe_failed_says_so_and_frees_the_amount(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = SlowBank()
    payment_id = paid(store, gateway)
    asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    gateway.settle(payment_id, 1, "failed")

    with pytest.raises(GatewayError, match=NOT_REFUNDED):
        asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))

    assert len(gateway.refund_calls) == 1
    payment = stored(store, payment_id)
    assert payment.refunds[1].state is RefundState.FAILED
    assert (payment.refunded_amount, payment.refundable_amount) == (0, 1000)


def test_a_retry_whose_lookup_goes_unanswered_sends_nothing(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = SlowBank()
    payment_id = paid(store, gateway)
    asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    gateway.down = True

    with pytest.raises(GatewayError, match="did not answer"):
        asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))

    assert len(gateway.refund_calls) == 1
    assert stored(store, payment_id).reserved_amount == 400


def test_a_retry_of_a_refund_stripe_never_received_sends_it_with_the_same_key(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = NeverReached()
    payment_id = paid(store, gateway)
    with pytest.raises(GatewayError):
        asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))

    receipt = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))

    assert [c.idempotency_key for c in gateway.refund_calls] == [f"refund-{payment_id}-1"]
    assert (receipt.amount, receipt.status) == (400, "partially_refunded")
    assert stored(store, payment_id).refunded_amount == 400


def test_a_refund_reserved_now_is_sent_without_a_lookup(store: EventSourcedPaymentStore) -> None:
    gateway = SlowBank()
    payment_id = paid(store, gateway)
    asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    asyncio.run(refund_payment(keyless(payment_id, 100), store=store, gateway=gateway))
    assert gateway.lookups == 0 and len(gateway.refund_calls) == 2


def test_a_retry_too_late_to_ask_stripe_keeps_a_refund_stripe_holds(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = SlowBank()
    payment_id = paid(store, gateway)
    asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))

    with pytest.raises(ServiceUnavailable, match=NOT_STARTED):
        asyncio.run(
            refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway, deadline=PASSED)
        )

    payment = stored(store, payment_id)
    assert payment.refunds[1].state is RefundState.PENDING and payment.reserved_amount == 400


class StillMaking(SimulatedGateway):
    """Stripe still making the first request's refund: it is not listed yet, and a second
    request with its key is refused 429 (`lock_timeout`) while the first holds it."""

    def __init__(self) -> None:
        super().__init__()
        self.making = True

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        if self.making:
            if self.refund_calls:
                raise GatewayThrottled("lock_timeout")
            self.refund_calls.append(request)
            raise GatewayUnavailable("read timed out")  # the first: Stripe goes on making it
        return await super().refund(request)


def test_a_retry_refused_while_stripe_makes_the_first_send_keeps_its_reservation(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = StillMaking()
    payment_id = paid(store, gateway)
    with pytest.raises(GatewayError):
        asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))

    refused_for_429s(store, gateway, payment_id)

    payment = stored(store, payment_id)
    assert payment.refunds[1].state is RefundState.REQUESTED, "Stripe may be making it"
    assert payment.reserved_amount == 400
    gateway.making = False
    receipt = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    assert receipt.amount == 400
    assert len(stored(store, payment_id).refunds) == 1, "still the one refund, under its key"


# -- a refund Stripe never took in is released -------------------------------------------


def test_a_refund_not_started_before_the_deadline_gives_its_reservation_back(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)

    with pytest.raises(ServiceUnavailable, match=NOT_STARTED):
        asyncio.run(
            refund_payment(keyless(payment_id, 400), store=store, gateway=gateway, deadline=PASSED)
        )

    payment = stored(store, payment_id)
    assert gateway.refund_calls == []
    assert (payment.reserved_amount, payment.refundable_amount) == (0, 1000)
    assert payment.status.value == "succeeded"
    whole = asyncio.run(refund_payment(keyless(payment_id, None), store=store, gateway=gateway))
    assert (whole.amount, whole.status) == (1000, "refunded")


def test_a_refund_stripe_throttled_throughout_keeps_its_reservation_and_its_key_refunds_once(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = Throttled(delay=0.2)
    payment_id = paid(store, gateway)

    refused_for_429s(store, gateway, payment_id)

    payment = stored(store, payment_id)
    assert gateway.refusals >= 1
    assert payment.refunds[1].state is RefundState.REQUESTED, "a 429 proves nothing unsent"
    assert (payment.reserved_amount, payment.refundable_amount) == (400, 600)
    gateway.throttling = False
    receipt = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    assert (receipt.amount, receipt.status) == (400, "partially_refunded")
    assert [r.idempotency_key for r in gateway.refund_calls] == [f"refund-{payment_id}-1"]
    assert len(stored(store, payment_id).refunds) == 1


class MadeBehindA429(SlowBank):
    """stripe-python's first try timed out while Stripe made the refund; its retries with the
    same key met Stripe's `lock_timeout`: the service only ever sees 429s."""

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        await super().refund(request)
        raise GatewayThrottled("lock_timeout")


def test_a_refund_made_behind_429s_is_neither_released_nor_sent_again(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = MadeBehindA429()
    payment_id = paid(store, gateway)
    refused_for_429s(store, gateway, payment_id)
    sent = len(gateway.refund_calls)
    gateway.settle(payment_id, 1, "succeeded")

    again = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))

    assert len(gateway.refund_calls) == sent, "found at Stripe, not sent again"
    assert (again.amount, again.status) == (400, "partially_refunded")
    payment = stored(store, payment_id)
    assert (payment.refunded_amount, payment.reserved_amount) == (400, 0)
    assert len(payment.refunds) == 1


def test_a_keyed_retry_of_a_refund_that_never_started_refunds_once(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)
    with pytest.raises(ServiceUnavailable, match=NOT_STARTED):
        asyncio.run(
            refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway, deadline=PASSED)
        )
    assert stored(store, payment_id).reserved_amount == 0

    receipt = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    again = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))

    assert (receipt.amount, receipt.status) == (400, "partially_refunded")
    assert again == receipt
    assert len(gateway.refund_calls) == 1
    payment = stored(store, payment_id)
    assert (payment.refunded_amount, payment.reserved_amount) == (400, 0)

"""A refund is idempotent by its key, durably: the key is recorded on RefundRequested."""

import asyncio
from uuid import UUID

import pytest

from adapters.eventstore import EventSourcedPaymentStore
from adapters.simulated_gateway import SimulatedGateway
from application.actors import Actor
from application.errors import GatewayError, IdempotencyMismatch
from application.ports import GatewayUnavailable, RefundOutcome, RefundRequest
from application.refund_payment import RefundPayment, refund_payment
from domain.errors import InvalidInput
from domain.payment import Payment
from tests.unit.test_refund_and_history import ADMIN, paid

OTHER_ADMIN = Actor("admin-2", frozenset({"admin"}))


def keyed(
    payment_id: UUID, key: str, amount: int | None = 400, actor: Actor = ADMIN
) -> RefundPayment:
    return RefundPayment(actor=actor, payment_id=payment_id, amount=amount, idempotency_key=key)


def test_the_same_key_refunds_once_and_answers_the_same(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)
    first = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    again = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    assert again == first
    assert first.amount == 400 and first.status == "partially_refunded"
    payment = store.find(payment_id)
    assert payment is not None and payment.refunded_amount == 400
    assert len(gateway.refund_calls) == 1


def test_a_full_refund_retried_with_its_key_is_not_already_refunded(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)
    first = asyncio.run(
        refund_payment(keyed(payment_id, "all", None), store=store, gateway=gateway)
    )
    again = asyncio.run(
        refund_payment(keyed(payment_id, "all", None), store=store, gateway=gateway)
    )
    assert again == first and first.status == "refunded"


def test_the_same_key_with_another_amount_is_a_mismatch_and_changes_nothing(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)
    asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    version = store.find(payment_id).version  # type: ignore[union-attr]
    with pytest.raises(IdempotencyMismatch):
        asyncio.run(refund_payment(keyed(payment_id, "r-1", 300), store=store, gateway=gateway))
    assert store.find(payment_id).version == version  # type: ignore[union-attr]


def test_keys_are_scoped_to_the_requester(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)
    asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    theirs = asyncio.run(
        refund_payment(keyed(payment_id, "r-1", actor=OTHER_ADMIN), store=store, gateway=gateway)
    )
    assert theirs.amount == 400
    assert store.find(payment_id).refunded_amount == 800  # type: ignore[union-attr]


def test_a_bad_key_is_refused(store: EventSourcedPaymentStore, gateway: SimulatedGateway) -> None:
    payment_id = paid(store, gateway)
    with pytest.raises(InvalidInput) as error:
        asyncio.run(refund_payment(keyed(payment_id, "x" * 256), store=store, gateway=gateway))
    assert error.value.field == "Idempotency-Key"
    assert gateway.refund_calls == []


class FlakyRefunds(SimulatedGateway):
    """Refunds at Stripe but loses the answer the first time."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        outcome = await super().refund(request)
        if self.failures:
            self.failures -= 1
            raise GatewayUnavailable("read timed out")
        return outcome


def test_after_an_unknown_outcome_the_retry_resumes_the_same_stripe_refund(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = FlakyRefunds()
    payment_id = paid(store, gateway)
    with pytest.raises(GatewayError):
        asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    receipt = asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    assert receipt.amount == 400 and receipt.status == "partially_refunded"
    assert len(gateway.refund_calls) == 1, "found at Stripe by the retry, not sent again"
    payment = store.find(payment_id)
    assert payment is not None and (payment.refunded_amount, payment.reserved_amount) == (400, 0)


def test_a_refund_requested_before_keys_were_recorded_still_loads(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    payment_id = paid(store, gateway)
    asyncio.run(refund_payment(keyed(payment_id, "r-1"), store=store, gateway=gateway))
    recorder = store.app.recorder
    for stored in recorder.select_events(payment_id):  # type: ignore[attr-defined]
        if stored.topic.endswith("RefundRequested"):
            state = store.app.mapper.transcoder.decode(stored.state)
            assert state.pop("class_version") == 2
            for name in ("requested_by", "idempotency_key", "request_hash"):
                del state[name]
            stored_v1 = type(stored)(
                originator_id=stored.originator_id,
                originator_version=stored.originator_version,
                topic=stored.topic,
                state=store.app.mapper.transcoder.encode(state),
            )
            event = store.app.mapper.to_domain_event(stored_v1)
            assert isinstance(event, Payment.RefundRequested)
            assert (event.idempotency_key, event.requested_by, event.request_hash) == (None,) * 3
            assert event.amount == 400

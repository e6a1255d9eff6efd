"""process_payment on in-memory persistence and the simulated gateway."""

from uuid import UUID

import pytest

from adapters.eventstore import EventSourcedPaymentStore
from adapters.simulated_gateway import SimulatedGateway
from application.errors import (
    GatewayError,
    IdempotencyMismatch,
    PaymentDeclined,
    PaymentMethodRejected,
)
from application.ports import ChargeOutcome, ChargeRequest, GatewayUnavailable
from application.process_payment import ProcessPayment
from domain.errors import InvalidInput
from domain.payment_status import PaymentStatus
from tests.wiring import pay


def charge(**overrides: object) -> ProcessPayment:
    fields: dict[str, object] = {
        "user_id": "user-1",
        "amount": 2500,
        "currency": "usd",
        "payment_method_id": "pm_card_visa",
        "course_id": "course-1",
        "metadata": {"courseTitle": "Advanced TypeScript"},
    }
    fields.update(overrides)
    return ProcessPayment(**fields)  # type: ignore[arg-type]


def test_a_charge_succeeds_and_is_stored(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    receipt = pay(charge(), store=store, gateway=gateway)
    assert receipt.status == "succeeded"
    assert receipt.intent_id and receipt.client_secret
    payment = store.find(UUID(receipt.payment_id))
    assert payment is not None
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.amount == 2500
    assert payment.metadata == {"courseTitle": "Advanced TypeScript"}


def test_the_same_key_charges_once_and_answers_the_same(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    first = pay(charge(idempotency_key="k1"), store=store, gateway=gateway)
    second = pay(charge(idempotency_key="k1"), store=store, gateway=gateway)
    assert first == second
    assert len(gateway.charge_calls) == 1


def test_without_a_key_the_same_purchase_is_one_payment(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    first = pay(charge(), store=store, gateway=gateway)
    second = pay(charge(), store=store, gateway=gateway)
    other = pay(charge(course_id="course-2"), store=store, gateway=gateway)
    assert first.payment_id == second.payment_id != other.payment_id
    assert len(gateway.charge_calls) == 2


def test_keys_are_scoped_to_the_user(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    mine = pay(charge(idempotency_key="k"), store=store, gateway=gateway)
    theirs = pay(charge(user_id="user-2", idempotency_key="k"), store=store, gateway=gateway)
    assert mine.payment_id != theirs.payment_id


def test_a_reused_key_with_another_body_is_a_mismatch(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    pay(charge(idempotency_key="k1"), store=store, gateway=gateway)
    with pytest.raises(IdempotencyMismatch):
        pay(charge(idempotency_key="k1", amount=9999), store=store, gateway=gateway)
    assert len(gateway.charge_calls) == 1


def test_a_decline_is_recorded_as_failed_with_stripe_codes(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    with pytest.raises(PaymentDeclined) as declined:
        pay(
            charge(payment_method_id="pm_card_chargeDeclinedInsufficientFunds"),
            store=store,
            gateway=gateway,
        )
    assert declined.value.insufficient_funds
    payment = store.find(UUID(declined.value.payment_id))
    assert payment is not None
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure is not None
    assert payment.failure["decline_code"] == "insufficient_funds"


def test_a_decline_releases_a_derived_key_but_not_an_explicit_one(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    declined = charge(payment_method_id="pm_card_chargeDeclined")
    with pytest.raises(PaymentDeclined) as first:
        pay(declined, store=store, gateway=gateway)
    with pytest.raises(PaymentDeclined) as retry:
        pay(declined, store=store, gateway=gateway)
    assert first.value.payment_id != retry.value.payment_id
    assert len(gateway.charge_calls) == 2

    keyed = charge(payment_method_id="pm_card_chargeDeclined", idempotency_key="fixed")
    with pytest.raises(PaymentDeclined) as first:
        pay(keyed, store=store, gateway=gateway)
    with pytest.raises(PaymentDeclined) as replay:
        pay(keyed, store=store, gateway=gateway)
    assert first.value.payment_id == replay.value.payment_id
    assert len(gateway.charge_calls) == 3


def test_an_unknown_payment_method_is_a_payment_method_error(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    with pytest.raises(PaymentMethodRejected):
        pay(charge(payment_method_id="pm_unknown"), store=store, gateway=gateway)


def test_3ds_leaves_the_payment_requiring_action(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    receipt = pay(
        charge(payment_method_id="pm_card_authenticationRequired"), store=store, gateway=gateway
    )
    assert receipt.status == "requires_action"
    assert receipt.client_secret


class FlakyGateway(SimulatedGateway):
    """Times out on the first charge, as Stripe can; answers afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        outcome = await super().charge(request)
        if self.failures:
            self.failures -= 1
            raise GatewayUnavailable("read timed out")
        return outcome


def test_an_unknown_outcome_stays_pending_and_a_retry_resumes_it(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = FlakyGateway()
    with pytest.raises(GatewayError):
        pay(charge(idempotency_key="k"), store=store, gateway=gateway)
    pending = store.find(gateway.charge_calls[0].payment_id)
    assert pending is not None
    assert pending.status is PaymentStatus.PENDING

    receipt = pay(charge(idempotency_key="k"), store=store, gateway=gateway)
    assert receipt.status == "succeeded"
    keys = {call.idempotency_key for call in gateway.charge_calls}
    assert len(keys) == 1, "the retry must reuse the gateway idempotency key"
    assert len(gateway._charges) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 10}, "amount"),
        ({"currency": "zzz"}, "currency"),
        ({"idempotency_key": "x" * 256}, "Idempotency-Key"),
        ({"idempotency_key": "bad\nkey"}, "Idempotency-Key"),
        ({"metadata": {"card": "4242424242424242"}}, "metadata"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    store: EventSourcedPaymentStore,
    gateway: SimulatedGateway,
    overrides: dict[str, object],
    field: str,
) -> None:
    with pytest.raises(InvalidInput) as error:
        pay(charge(**overrides), store=store, gateway=gateway)
    assert error.value.field == field
    assert store.app.recorder.max_notification_id() in (None, 0)
    assert gateway.charge_calls == []

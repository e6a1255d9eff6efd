"""process_payment on in-memory persistence and the simulated gateway."""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

import pytest

import application.process_payment as process_payment_module
from adapters.eventstore import EventSourcedPaymentStore
from adapters.simulated_gateway import SimulatedGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.charges import apply_charge_outcome
from application.errors import (
    GatewayError,
    IdempotencyMismatch,
    PaymentDeclined,
    PaymentMethodRejected,
    ServiceUnavailable,
)
from application.ports import ChargeOutcome, ChargeRequest, ChargeStatus, GatewayUnavailable
from application.process_payment import ProcessPayment, request_identity
from domain.errors import InvalidInput
from domain.payment import Payment
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
    declined_first = store.find(UUID(first.value.payment_id))
    assert declined_first is not None and declined_first.intent_id is not None
    # Its intent, which Stripe would let another card pay, was canceled before the retry.
    assert asyncio.run(gateway.retrieve_charge(declined_first.intent_id)).status == "canceled"

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


def failed_3d_secure(store: EventSourcedPaymentStore, gateway: SimulatedGateway) -> UUID:
    """A purchase whose customer failed 3-D Secure, recorded as Stripe's webhook records it; its
    PaymentIntent waits for another card, and the checkout page still holds its secret."""
    receipt = pay(
        charge(payment_method_id="pm_card_authenticationRequired"), store=store, gateway=gateway
    )
    assert receipt.intent_id is not None and receipt.client_secret
    failed = gateway.authenticate(receipt.intent_id, passed=False)
    payment = store.find(UUID(receipt.payment_id))
    assert payment is not None and failed.decline is not None
    payment.mark_failed(failed.decline.code, None, failed.decline.message)
    store.save(payment)
    return payment.id


class CancelCounting(SimulatedGateway):
    """Counts cancels; `meanwhile` answers them as Stripe does for an intent that a checkout
    page confirmed with another card before the cancel reached it (paid, or still being paid)."""

    def __init__(self, *, meanwhile: ChargeStatus | None = None, unanswered: bool = False) -> None:
        super().__init__()
        self.meanwhile, self.unanswered = meanwhile, unanswered
        self.canceled: list[str] = []

    async def cancel_charge(self, intent_id: str) -> ChargeOutcome:
        self.canceled.append(intent_id)
        if self.unanswered:
            raise GatewayUnavailable("read timed out")
        if self.meanwhile is not None:
            return ChargeOutcome(intent_id=intent_id, status=self.meanwhile)
        return await super().cancel_charge(intent_id)


def test_a_purchase_whose_3d_secure_failed_is_bought_anew_once_its_intent_is_canceled(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = CancelCounting()
    failed_id = failed_3d_secure(store, gateway)
    failed = store.find(failed_id)
    assert failed is not None and failed.intent_id is not None

    again = pay(charge(payment_method_id="pm_card_visa"), store=store, gateway=gateway)
    same_card = pay(
        charge(payment_method_id="pm_card_authenticationRequired"), store=store, gateway=gateway
    )

    assert gateway.canceled == [failed.intent_id]
    assert asyncio.run(gateway.retrieve_charge(failed.intent_id)).status == "canceled"
    old = store.find(failed_id)
    assert old is not None and old.intent_closed
    assert old.status is PaymentStatus.FAILED  # its decline kept, for the customer and support
    assert old.failure is not None
    assert old.failure["code"] == "payment_intent_authentication_failure"
    assert again.status == "succeeded"
    assert same_card.payment_id != str(failed_id)  # the failed purchase, bought anew
    assert same_card.status == "requires_action"
    assert len(gateway.charge_calls) == 3


def test_a_failed_purchase_paid_meanwhile_on_its_intent_is_not_charged_again(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = CancelCounting(meanwhile="succeeded")
    failed_id = failed_3d_secure(store, gateway)

    again = pay(
        charge(payment_method_id="pm_card_authenticationRequired"), store=store, gateway=gateway
    )

    assert again.payment_id == str(failed_id)
    assert again.status == "succeeded"
    assert len(gateway.charge_calls) == 1
    payment = store.find(failed_id)
    assert payment is not None and payment.status is PaymentStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("gateway", "refusal"),
    [
        (lambda: CancelCounting(unanswered=True), GatewayError),  # 500 STRIPE_ERROR
        (lambda: CancelCounting(meanwhile="processing"), ServiceUnavailable),  # 503, Retry-After
    ],
    ids=["cancel_unanswered", "still_being_paid"],
)
def test_a_failed_purchase_not_closed_at_stripe_is_not_bought_anew(
    store: EventSourcedPaymentStore,
    gateway: Callable[[], CancelCounting],
    refusal: type[Exception],
) -> None:
    stripe = gateway()
    failed_id = failed_3d_secure(store, stripe)

    with pytest.raises(refusal):
        pay(
            charge(payment_method_id="pm_card_authenticationRequired"),
            store=store,
            gateway=stripe,
        )

    assert len(stripe.canceled) == 1  # asked once, not again in the same request
    assert len(stripe.charge_calls) == 1
    payment = store.find(failed_id)
    assert payment is not None and payment.confirmable


def test_a_declined_purchase_retried_without_a_key_and_other_metadata_is_charged_anew(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = CancelCounting()
    with pytest.raises(PaymentDeclined) as declined:
        pay(
            charge(payment_method_id="pm_card_chargeDeclined", metadata={"try": "1"}),
            store=store,
            gateway=gateway,
        )
    with pytest.raises(PaymentDeclined) as again:  # the same card: the same derived key
        pay(
            charge(payment_method_id="pm_card_chargeDeclined", metadata={"try": "2"}),
            store=store,
            gateway=gateway,
        )
    assert again.value.payment_id != declined.value.payment_id
    assert len(gateway.canceled) == 1 and len(gateway.charge_calls) == 2


def test_every_open_intent_of_earlier_attempts_is_closed_before_buying_anew(
    store: EventSourcedPaymentStore,
) -> None:
    """Two attempts declined one after the other, their intents left open (as versions before
    this one left them): each is closed in turn, then the purchase is charged once more."""
    gateway = CancelCounting()
    declined = charge(payment_method_id="pm_card_chargeDeclined")
    key, fingerprint = request_identity(declined, EventSourcedWalletStore(store.app))
    intents = []
    for attempt in (0, 1):
        payment = Payment(
            user_id=declined.user_id, amount=declined.amount, currency=declined.currency,
            payment_method_id="pm_card_chargeDeclined", course_id=declined.course_id,
            metadata=declined.metadata, idempotency_key=key, key_derived=True, attempt=attempt,
            request_hash=fingerprint,
        )  # fmt: skip
        request = ChargeRequest(
            payment_id=payment.id, user_id=payment.user_id, amount=payment.amount,
            currency=payment.currency, payment_method_id=payment.payment_method_id,
            course_id=payment.course_id, metadata={}, idempotency_key=f"payment-{payment.id}",
        )  # fmt: skip
        outcome = asyncio.run(gateway.charge(request))
        assert outcome.intent_id is not None and outcome.decline is not None
        apply_charge_outcome(payment, outcome)
        store.save(payment)
        intents.append(outcome.intent_id)

    with pytest.raises(PaymentDeclined) as again:
        pay(declined, store=store, gateway=gateway)

    assert gateway.canceled == intents
    assert len(gateway.charge_calls) == 3
    latest = store.find(UUID(again.value.payment_id))
    assert latest is not None and latest.attempt == 2


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


class ForgetfulGateway(SimulatedGateway):
    """Stripe over days: `forget_keys` is a day passing, after which Stripe no longer knows
    the idempotency keys it was sent (a charge sent again with one makes a new intent). The
    first charge reaches Stripe and its answer is lost, as a timeout does."""

    def __init__(self) -> None:
        super().__init__()
        self.day = 0
        self.lose_answers = 1
        self.answer_pending = 0
        self.lose_requests = 0  # lost on the way: Stripe never sees them
        self.down = False  # Stripe answers nothing

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        if self.lose_requests:
            self.lose_requests -= 1
            raise GatewayUnavailable("connection reset")
        keyed = replace(request, idempotency_key=f"{request.idempotency_key}@{self.day}")
        outcome = await super().charge(keyed)
        if self.lose_answers:
            self.lose_answers -= 1
            raise GatewayUnavailable("read timed out")
        if self.answer_pending:
            self.answer_pending -= 1
            return replace(outcome, status="pending")
        return outcome

    async def find_charge(
        self, payment_id: UUID, customer_id: str, created_after: datetime
    ) -> ChargeOutcome | None:
        if self.down:
            raise GatewayUnavailable("read timed out")
        return await super().find_charge(payment_id, customer_id, created_after)

    def forget_keys(self) -> None:
        self.day += 1


@pytest.fixture
def a_day_later(monkeypatch: pytest.MonkeyPatch) -> Callable[[ForgetfulGateway], None]:
    """Every payment counts as older than Stripe keeps its keys, and Stripe forgot them."""

    def pass_a_day(gateway: ForgetfulGateway) -> None:
        monkeypatch.setattr(process_payment_module, "STRIPE_KEEPS_KEYS", timedelta(0))
        gateway.forget_keys()

    return pass_a_day


def unanswered_a_day_ago(
    store: EventSourcedPaymentStore,
    gateway: ForgetfulGateway,
    a_day_later: Callable[[ForgetfulGateway], None],
) -> None:
    """The charge with key `k` got no answer, a day ago."""
    with pytest.raises(GatewayError):
        pay(charge(idempotency_key="k"), store=store, gateway=gateway)
    a_day_later(gateway)


def test_a_retry_a_day_after_a_lost_answer_finds_the_first_intent_and_charges_once(
    store: EventSourcedPaymentStore, a_day_later: Callable[[ForgetfulGateway], None]
) -> None:
    gateway = ForgetfulGateway()
    unanswered_a_day_ago(store, gateway, a_day_later)

    receipt = pay(charge(idempotency_key="k"), store=store, gateway=gateway)

    assert receipt.status == "succeeded"
    assert len(gateway._charges) == 1, "the card must be charged once"
    assert len(gateway.charge_calls) == 1, "found at Stripe, not sent again"
    assert receipt.intent_id == next(iter(gateway._charges))


def test_a_retry_of_a_charge_stripe_answered_pending_asks_stripe_for_its_intent(
    store: EventSourcedPaymentStore, a_day_later: Callable[[ForgetfulGateway], None]
) -> None:
    gateway = ForgetfulGateway()
    gateway.lose_answers = 0
    gateway.answer_pending = 1  # the intent is made and settles at Stripe afterwards
    first = pay(charge(idempotency_key="k"), store=store, gateway=gateway)
    assert first.status == "pending" and first.intent_id
    a_day_later(gateway)

    retry = pay(charge(idempotency_key="k"), store=store, gateway=gateway)

    assert (retry.payment_id, retry.intent_id, retry.status) == (
        first.payment_id,
        first.intent_id,
        "succeeded",
    )
    assert len(gateway._charges) == 1, "no second PaymentIntent"
    assert len(gateway.charge_calls) == 1


def test_a_retry_a_day_after_a_charge_that_never_reached_stripe_charges_once(
    store: EventSourcedPaymentStore, a_day_later: Callable[[ForgetfulGateway], None]
) -> None:
    gateway = ForgetfulGateway()
    gateway.lose_answers, gateway.lose_requests = 0, 1
    unanswered_a_day_ago(store, gateway, a_day_later)

    receipt = pay(charge(idempotency_key="k"), store=store, gateway=gateway)

    assert receipt.status == "succeeded"
    assert len(gateway._charges) == 1 and len(gateway.charge_calls) == 1


def test_a_retry_a_day_later_whose_lookup_goes_unanswered_sends_nothing(
    store: EventSourcedPaymentStore, a_day_later: Callable[[ForgetfulGateway], None]
) -> None:
    gateway = ForgetfulGateway()
    unanswered_a_day_ago(store, gateway, a_day_later)
    gateway.down = True

    with pytest.raises(GatewayError):
        pay(charge(idempotency_key="k"), store=store, gateway=gateway)

    assert len(gateway.charge_calls) == 1, "not sent again while Stripe cannot say"
    pending = store.find(gateway.charge_calls[0].payment_id)
    assert pending is not None and pending.status is PaymentStatus.PENDING


def test_within_the_day_a_lost_answer_is_resent_with_its_key_not_looked_up(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = ForgetfulGateway()
    with pytest.raises(GatewayError):
        pay(charge(idempotency_key="k"), store=store, gateway=gateway)

    receipt = pay(charge(idempotency_key="k"), store=store, gateway=gateway)

    assert receipt.status == "succeeded"
    assert len(gateway.charge_calls) == 2, "sent again: its key answers for the first intent"
    assert len(gateway._charges) == 1


def test_a_purchase_refunded_in_full_is_bought_again_with_other_metadata(
    store: EventSourcedPaymentStore, gateway: SimulatedGateway
) -> None:
    first = pay(charge(metadata={"checkout": "a"}), store=store, gateway=gateway)
    payment = store.find(UUID(first.payment_id))
    assert payment is not None
    payment.request_refund(None, None)
    payment.record_refund(1, "re_1", payment.amount)
    store.save(payment)

    again = pay(charge(metadata={"checkout": "b"}), store=store, gateway=gateway)

    assert again.status == "succeeded"
    assert again.payment_id != first.payment_id
    assert len(gateway.charge_calls) == 2

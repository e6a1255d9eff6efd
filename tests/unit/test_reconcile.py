"""reconcile on in-memory persistence and a simulated gateway that can lose its answers."""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from adapters.eventstore import EventSourcedPaymentStore
from adapters.pending_scan import EventLogPendingPayments
from adapters.simulated_gateway import SimulatedGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.actors import Actor
from application.errors import GatewayError, PaymentDeclined, PaymentMethodRejected
from application.ports import (
    ChargeOutcome,
    ChargeRequest,
    GatewayUnavailable,
    PaymentMethodUnusable,
    RefundOutcome,
    RefundRequest,
)
from application.process_payment import ProcessPayment, process_payment
from application.reconcile import (
    NEVER_REACHED_STRIPE,
    SHORTEST_OLDER_THAN,
    ReconcileReport,
    reconcile,
)
from application.refund_payment import RefundPayment, refund_payment
from domain.errors import InvalidInput
from domain.payment import Payment
from domain.payment_status import PaymentStatus, RefundState, payment_id_for

ADMIN = Actor("ops", frozenset({"admin"}))
LATER = datetime.now(UTC) + timedelta(hours=1)


class FlakyGateway(SimulatedGateway):
    """Stripe's behaviour with the network in between: an answer can be lost either way."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_answer = False  # Stripe acts, we never hear back
        self.unreachable = False  # the request never reaches Stripe

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        if self.unreachable:
            raise GatewayUnavailable("connection refused")
        outcome = await super().charge(request)
        if self.lose_answer:
            raise GatewayUnavailable("read timed out")
        return outcome

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        if self.unreachable:
            raise GatewayUnavailable("connection refused")
        outcome = await super().refund(request)
        if self.lose_answer:
            raise GatewayUnavailable("read timed out")
        return outcome


@pytest.fixture
def flaky() -> FlakyGateway:
    return FlakyGateway()


def attempt(
    store: EventSourcedPaymentStore,
    gateway: FlakyGateway,
    key: str,
    card: str = "pm_card_visa",
    refusal: type[Exception] = GatewayError,
) -> Payment:
    cmd = ProcessPayment(
        user_id="u1", amount=1000, currency="usd", payment_method_id=card, idempotency_key=key,
    )  # fmt: skip
    wallets = EventSourcedWalletStore(store.app)
    with contextlib.suppress(refusal):
        asyncio.run(process_payment(cmd, store=store, gateway=gateway, wallets=wallets))
    payment = store.find(payment_id_for("u1", key))
    assert payment is not None
    return payment


def run(
    store: EventSourcedPaymentStore,
    gateway: FlakyGateway,
    now: datetime = LATER,
    older_than: timedelta = timedelta(minutes=15),
) -> ReconcileReport:
    return asyncio.run(
        reconcile(
            older_than=older_than,
            now=now,
            pending=EventLogPendingPayments(store.app),
            store=store,
            wallets=EventSourcedWalletStore(store.app),
            gateway=gateway,
        )
    )


def status_of(store: EventSourcedPaymentStore, payment_id: UUID) -> PaymentStatus:
    payment = store.find(payment_id)
    assert payment is not None
    return payment.status


def test_a_charge_whose_answer_was_lost_is_settled_from_stripe(
    store: EventSourcedPaymentStore, flaky: FlakyGateway
) -> None:
    flaky.lose_answer = True
    lost = attempt(store, flaky, "lost")
    flaky.lose_answer = False
    assert lost.status is PaymentStatus.PENDING and lost.intent_id is None

    report = run(store, flaky)

    assert status_of(store, lost.id) is PaymentStatus.SUCCEEDED
    assert [(s.payment_id, s.before, s.after) for s in report.settled] == [
        (str(lost.id), "pending", "succeeded")
    ]
    assert len(flaky.charge_calls) == 1


def test_a_charge_that_never_reached_stripe_is_canceled_not_charged(
    store: EventSourcedPaymentStore, flaky: FlakyGateway
) -> None:
    flaky.unreachable = True
    never = attempt(store, flaky, "never")
    flaky.unreachable = False
    attempt(store, flaky, "other")  # the user's Customer exists by now

    run(store, flaky)

    payment = store.find(never.id)
    assert payment is not None and payment.status is PaymentStatus.CANCELED
    assert [c.payment_id for c in flaky.charge_calls] == [payment_id_for("u1", "other")]
    last = store.events_of(never.id)[-1]
    assert isinstance(last, Payment.Canceled) and last.reason == NEVER_REACHED_STRIPE


def test_nothing_younger_than_the_threshold_is_touched(
    store: EventSourcedPaymentStore, flaky: FlakyGateway
) -> None:
    flaky.lose_answer = True
    lost = attempt(store, flaky, "lost")
    report = run(store, flaky, now=datetime.now(UTC))
    assert report.settled == [] and status_of(store, lost.id) is PaymentStatus.PENDING


@pytest.mark.parametrize("older_than", [timedelta(0), SHORTEST_OLDER_THAN - timedelta(seconds=1)])
def test_a_window_shorter_than_a_charge_can_be_in_flight_is_refused(
    store: EventSourcedPaymentStore, flaky: FlakyGateway, older_than: timedelta
) -> None:
    flaky.unreachable = True
    in_flight = attempt(store, flaky, "in-flight")  # as reconcile sees a charge still on its way
    flaky.unreachable = False
    attempt(store, flaky, "other")  # the user's Customer exists by now
    version = store.find(in_flight.id).version  # type: ignore[union-attr]

    with pytest.raises(InvalidInput, match="older_than: must be at least 5 minutes"):
        run(store, flaky, now=datetime.now(UTC), older_than=older_than)

    assert store.find(in_flight.id).version == version  # type: ignore[union-attr]
    assert status_of(store, in_flight.id) is PaymentStatus.PENDING


def test_a_window_of_exactly_the_minimum_is_accepted(
    store: EventSourcedPaymentStore, flaky: FlakyGateway
) -> None:
    flaky.lose_answer = True
    lost = attempt(store, flaky, "lost")
    flaky.lose_answer = False

    report = run(
        store, flaky, now=lost.modified_on + SHORTEST_OLDER_THAN, older_than=SHORTEST_OLDER_THAN
    )

    assert [s.payment_id for s in report.settled] == [str(lost.id)]
    assert status_of(store, lost.id) is PaymentStatus.SUCCEEDED


def test_a_refund_whose_answer_was_lost_is_settled_and_one_never_sent_released(
    store: EventSourcedPaymentStore, flaky: FlakyGateway
) -> None:
    paid = attempt(store, flaky, "paid")
    for lose, amount in ((True, 300), (False, 200)):
        flaky.lose_answer, flaky.unreachable = lose, not lose
        with pytest.raises(GatewayError):
            asyncio.run(
                refund_payment(
                    RefundPayment(actor=ADMIN, payment_id=paid.id, amount=amount),
                    store=store,
                    gateway=flaky,
                )
            )
    flaky.lose_answer = flaky.unreachable = False

    run(store, flaky)

    payment = store.find(paid.id)
    assert payment is not None
    assert {n: r.state for n, r in payment.refunds.items()} == {
        1: RefundState.SUCCEEDED,
        2: RefundState.FAILED,
    }
    assert payment.refunded_amount == 300 and payment.refundable_amount == 700


def test_a_second_run_finds_nothing_left_to_settle(
    store: EventSourcedPaymentStore, flaky: FlakyGateway
) -> None:
    flaky.lose_answer = True
    lost = attempt(store, flaky, "lost")
    flaky.lose_answer = False
    run(store, flaky)
    version = store.find(lost.id).version  # type: ignore[union-attr]

    again = run(store, flaky)

    assert again.settled == [] and again.still_open == []
    assert store.find(lost.id).version == version  # type: ignore[union-attr]


def test_stripe_not_answering_is_reported_and_changes_nothing(
    store: EventSourcedPaymentStore, flaky: FlakyGateway
) -> None:
    flaky.lose_answer = True
    lost = attempt(store, flaky, "lost")

    class Down(FlakyGateway):
        async def find_charge(self, *args: object) -> ChargeOutcome | None:
            raise GatewayUnavailable("down")

    report = run(store, Down())
    assert report.unanswered == [str(lost.id)] and report.settled == []
    assert status_of(store, lost.id) is PaymentStatus.PENDING


def test_a_refund_lost_after_an_earlier_one_failed_late_is_still_found(
    store: EventSourcedPaymentStore, flaky: FlakyGateway
) -> None:
    paid = attempt(store, flaky, "paid")
    refund = RefundPayment(actor=ADMIN, payment_id=paid.id, amount=100)
    asyncio.run(refund_payment(refund, store=store, gateway=flaky))
    payment = store.find(paid.id)
    assert payment is not None
    payment.record_refund_failure(1, payment.refunds[1].refund_id or "", 100)  # the bank bounced it
    store.save(payment)
    flaky.lose_answer = True
    refund = RefundPayment(actor=ADMIN, payment_id=paid.id, amount=400)
    with pytest.raises(GatewayError):
        asyncio.run(refund_payment(refund, store=store, gateway=flaky))
    flaky.lose_answer = False

    run(store, flaky)

    settled = store.find(paid.id)
    assert settled is not None and settled.refunds[2].state is RefundState.SUCCEEDED
    assert settled.refunded_amount == 400


def declined(store: EventSourcedPaymentStore, gateway: FlakyGateway, key: str) -> Payment:
    """A declined charge with an explicit key: nothing buys it anew, so its intent stays open."""
    payment = attempt(store, gateway, key, "pm_card_chargeDeclined", PaymentDeclined)
    assert payment.confirmable
    return payment


def test_a_failed_payments_open_intent_is_closed_and_its_decline_kept(
    store: EventSourcedPaymentStore, flaky: FlakyGateway
) -> None:
    failed = declined(store, flaky, "declined")
    assert run(store, flaky, now=datetime.now(UTC)).settled == []  # too young: left alone

    report = run(store, flaky)
    again = run(store, flaky)

    payment = store.find(failed.id)
    assert payment is not None and payment.intent_closed and not payment.confirmable
    assert payment.status is PaymentStatus.FAILED and payment.failure is not None
    assert [(s.payment_id, s.before, s.after) for s in report.settled] == [
        (str(failed.id), "failed (intent open)", "failed (intent closed)")
    ]
    assert asyncio.run(flaky.retrieve_charge(str(failed.intent_id))).status == "canceled"
    assert again.settled == [] and again.still_open == []


class PaidMeanwhile(FlakyGateway):
    """A checkout page confirmed a declined intent with another card; the webhook was lost."""

    async def cancel_charge(self, intent_id: str) -> ChargeOutcome:
        return ChargeOutcome(intent_id=intent_id, status="succeeded")  # too late to cancel


def test_a_failed_payments_intent_paid_meanwhile_is_recorded_paid(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = PaidMeanwhile()
    failed = declined(store, gateway, "paid-later")

    report = run(store, gateway)

    assert status_of(store, failed.id) is PaymentStatus.SUCCEEDED
    assert [(s.before, s.after) for s in report.settled] == [("failed (intent open)", "succeeded")]


class RefusesTheMethod(FlakyGateway):
    """Stripe refuses the payment method before any PaymentIntent is made."""

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        raise PaymentMethodUnusable("This payment method cannot be used.")


def test_a_payment_refused_before_any_intent_is_not_scanned_again(
    store: EventSourcedPaymentStore,
) -> None:
    gateway = RefusesTheMethod()
    refused = attempt(store, gateway, "no-intent", refusal=PaymentMethodRejected)
    assert refused.status is PaymentStatus.FAILED and refused.intent_id is None

    assert refused.id not in EventLogPendingPayments(store.app).unsettled()
    assert run(store, gateway).settled == []

"""Stripe acts but its answer is lost: a retry or reconciliation settles it, charging once."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from adapters.pending_scan import EventLogPendingPayments
from adapters.wallet_store import EventSourcedWalletStore
from application.actors import Actor
from application.errors import GatewayError
from application.ports import GatewayUnavailable
from application.reconcile import reconcile
from application.refund_payment import RefundPayment, refund_payment
from domain.payment_status import PaymentStatus, RefundState, payment_id_for
from tests.fake_stripe import FakeStripe, Reply
from tests.integration.stripe_helpers import memory_store, pay, purchase, stripe_at

pytestmark = pytest.mark.integration
PI = "/v1/payment_intents"
ADMIN = Actor("ops", frozenset({"admin"}))
LATER = datetime.now(UTC) + timedelta(hours=1)


def test_a_retry_after_a_timeout_resumes_the_same_payment_and_intent(
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.reply("POST", PI, Reply(delay=3.0))  # Stripe charges, the answer comes late
    store, gateway = memory_store(), stripe_at(fake_stripe.url, read_timeout=1.0)
    with pytest.raises(GatewayError):
        pay(purchase(), store, gateway)
    payment_id = payment_id_for("user-1", "order-1")
    pending = store.find(payment_id)
    assert pending is not None and pending.status is PaymentStatus.PENDING

    receipt = pay(purchase(), store, gateway)

    assert (receipt.payment_id, receipt.status) == (str(payment_id), "succeeded")
    assert len(fake_stripe.intents) == 1
    assert receipt.intent_id == next(iter(fake_stripe.intents))
    keys = {call.idempotency_key for call in fake_stripe.calls("POST", PI)}
    assert keys == {f"payment-{payment_id}"}


def test_the_clients_own_network_retry_reuses_the_idempotency_key(
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.reply("POST", PI, Reply(delay=3.0))
    store = memory_store()
    receipt = pay(purchase(), store, stripe_at(fake_stripe.url, read_timeout=1.0, retries=1))
    assert receipt.status == "succeeded"
    assert len(fake_stripe.calls("POST", PI)) == 2
    assert len(fake_stripe.intents) == 1


def test_reconcile_finds_the_intent_whose_answer_was_lost(fake_stripe: FakeStripe) -> None:
    fake_stripe.reply("POST", PI, Reply(delay=3.0))
    store, gateway = memory_store(), stripe_at(fake_stripe.url, read_timeout=1.0)
    with pytest.raises(GatewayError):
        pay(purchase(), store, gateway)

    report = asyncio.run(
        reconcile(
            older_than=timedelta(minutes=15),
            now=LATER,
            pending=EventLogPendingPayments(store.app),
            store=store,
            wallets=EventSourcedWalletStore(store.app),
            gateway=gateway,
        )
    )

    payment = store.find(payment_id_for("user-1", "order-1"))
    assert payment is not None and payment.status is PaymentStatus.SUCCEEDED
    assert payment.intent_id == next(iter(fake_stripe.intents))
    assert [(s.before, s.after) for s in report.settled] == [("pending", "succeeded")]
    assert len(fake_stripe.intents) == 1


def test_requires_action_returns_the_client_secret_for_3d_secure(fake_stripe: FakeStripe) -> None:
    fake_stripe.intent_status = "requires_action"
    receipt = pay(purchase(), memory_store(), stripe_at(fake_stripe.url))
    assert receipt.status == "requires_action"
    assert receipt.client_secret == f"{receipt.intent_id}_secret_fake"


def test_processing_stays_pending_settlement_until_stripe_settles_it(
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.intent_status = "processing"
    store, gateway = memory_store(), stripe_at(fake_stripe.url)
    receipt = pay(purchase(), store, gateway)
    assert receipt.status == "processing"
    assert receipt.intent_id is not None
    fake_stripe.intents[receipt.intent_id]["status"] = "succeeded"
    asyncio.run(
        reconcile(
            older_than=timedelta(minutes=15),
            now=LATER,
            pending=EventLogPendingPayments(store.app),
            store=store,
            wallets=EventSourcedWalletStore(store.app),
            gateway=gateway,
        )
    )
    payment = store.find(UUID(receipt.payment_id))
    assert payment is not None and payment.status is PaymentStatus.SUCCEEDED


def test_a_pending_refund_stays_pending_until_reconciled(fake_stripe: FakeStripe) -> None:
    store, gateway = memory_store(), stripe_at(fake_stripe.url)
    payment_id = UUID(pay(purchase(), store, gateway).payment_id)
    fake_stripe.refund_status = "pending"
    receipt = asyncio.run(
        refund_payment(
            RefundPayment(actor=ADMIN, payment_id=payment_id, amount=1000, reason="duplicate"),
            store=store,
            gateway=gateway,
        )
    )
    assert receipt.status == "succeeded"
    payment = store.find(payment_id)
    assert payment is not None and payment.refunds[1].state is RefundState.PENDING
    assert payment.refunded_amount == 0
    (refund,) = fake_stripe.refunds.values()
    assert refund["reason"] == "duplicate"
    assert refund["metadata"] == {
        "payment_id": str(payment_id),
        "refund_number": "1",
        "reason": "duplicate",
    }

    refund["status"] = "succeeded"
    report = asyncio.run(
        reconcile(
            older_than=timedelta(minutes=15),
            now=LATER,
            pending=EventLogPendingPayments(store.app),
            store=store,
            wallets=EventSourcedWalletStore(store.app),
            gateway=gateway,
        )
    )
    payment = store.find(payment_id)
    assert payment is not None and payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert payment.refunded_amount == 1000
    assert [(s.before, s.after) for s in report.settled] == [
        ("succeeded (refund 1 pending)", "partially_refunded (refund 1 succeeded)")
    ]


def test_a_free_text_reason_goes_to_metadata_only(fake_stripe: FakeStripe) -> None:
    store, gateway = memory_store(), stripe_at(fake_stripe.url)
    payment_id = UUID(pay(purchase(), store, gateway).payment_id)
    asyncio.run(
        refund_payment(
            RefundPayment(actor=ADMIN, payment_id=payment_id, reason="course was cancelled"),
            store=store,
            gateway=gateway,
        )
    )
    (call,) = fake_stripe.calls("POST", "/v1/refunds")
    assert "reason" not in call.form
    assert call.form["metadata[reason]"] == "course was cancelled"
    assert call.form["amount"] == "2500"
    assert call.idempotency_key == f"refund-{payment_id}-1"


def test_one_customer_per_user_and_our_ids_on_every_intent(fake_stripe: FakeStripe) -> None:
    store, gateway = memory_store(), stripe_at(fake_stripe.url)
    first = pay(purchase(idempotency_key="a"), store, gateway)
    pay(purchase(idempotency_key="b", course_id=None), store, gateway)

    (customer,) = fake_stripe.calls("POST", "/v1/customers")
    assert customer.form == {"metadata[user_id]": "user-1"}
    one, two = fake_stripe.calls("POST", PI)
    assert one.form == {
        "amount": "2500",
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "payment_method_types[0]": "card",
        "confirm": "true",
        "customer": next(iter(fake_stripe.customers)),
        "metadata[payment_id]": first.payment_id,
        "metadata[user_id]": "user-1",
        "metadata[course_id]": "course-1",
    }
    assert two.form["customer"] == one.form["customer"]
    assert "metadata[course_id]" not in two.form


def test_an_intent_stripe_does_not_know_is_no_answer_not_a_bad_card(
    fake_stripe: FakeStripe,
) -> None:
    with pytest.raises(GatewayUnavailable):
        asyncio.run(stripe_at(fake_stripe.url).retrieve_charge("pi_unknown"))

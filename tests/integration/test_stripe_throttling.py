"""Stripe's 429 (rate limit, lock timeout): retried inside the deadline, then 503 and pending."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.pending_scan import EventLogPendingPayments
from adapters.wallet_store import EventSourcedWalletStore
from application.deadlines import Deadline
from application.errors import ServiceUnavailable
from application.process_payment import process_payment
from application.reconcile import SHORTEST_OLDER_THAN, reconcile
from domain.payment_status import PaymentStatus, payment_id_for
from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import bearer
from tests.fake_stripe import FakeStripe, Reply
from tests.integration.stripe_helpers import memory_store, pay, purchase, stripe_at

pytestmark = pytest.mark.integration
PI = "/v1/payment_intents"
RATE_LIMITED = Reply(
    429,
    {
        "type": "invalid_request_error",
        "code": "rate_limit",
        "message": "Too many requests hit the API too quickly.",
    },
)
LOCK_TIMEOUT = Reply(429, {"type": "invalid_request_error", "code": "lock_timeout",
                           "message": "This object cannot be accessed right now."})  # fmt: skip


@pytest.mark.parametrize("reply", [RATE_LIMITED, LOCK_TIMEOUT], ids=["rate_limit", "lock_timeout"])
def test_a_passing_429_is_retried_with_the_same_key_and_the_charge_succeeds(
    fake_stripe: FakeStripe, reply: Reply
) -> None:
    fake_stripe.reply("POST", PI, reply, reply)
    receipt = pay(purchase(), memory_store(), stripe_at(fake_stripe.url))
    assert receipt.status == "succeeded"
    keys = {seen.idempotency_key for seen in fake_stripe.calls("POST", PI)}
    assert len(fake_stripe.calls("POST", PI)) == 3 and keys == {f"payment-{receipt.payment_id}"}
    assert len(fake_stripe.intents) == 1


def test_a_persisting_429_is_service_unavailable_the_payment_stays_pending_and_reconcile_settles_it(
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.reply("POST", PI, *[RATE_LIMITED] * 100)
    store, gateway = memory_store(), stripe_at(fake_stripe.url)
    wallets = EventSourcedWalletStore(store.app)
    deadline = Deadline.after(1.5)
    with pytest.raises(ServiceUnavailable) as refused:
        asyncio.run(
            process_payment(
                purchase(), store=store, gateway=gateway, wallets=wallets, deadline=deadline
            )
        )
    assert refused.value.retry_after >= 1
    assert deadline.remaining() < 1.0, "it kept trying while the deadline allowed"
    assert time.monotonic() < deadline.at + 1.0, "and gave up about when it ran out"
    attempts = len(fake_stripe.calls("POST", PI))
    assert 2 <= attempts < 100, "retried with backoff, within the deadline"
    payment = store.find(payment_id_for("user-1", "order-1"))
    assert payment is not None and payment.status is PaymentStatus.PENDING
    assert fake_stripe.intents == {}

    report = asyncio.run(
        reconcile(
            older_than=SHORTEST_OLDER_THAN,
            now=datetime.now(UTC) + SHORTEST_OLDER_THAN,
            pending=EventLogPendingPayments(store.app),
            store=store,
            wallets=wallets,
            gateway=gateway,
        )
    )
    assert [s.payment_id for s in report.settled] == [str(payment.id)]
    settled = store.find(payment.id)
    assert settled is not None and settled.status is PaymentStatus.CANCELED


def test_over_http_a_persisting_429_is_a_503_with_retry_after(
    fake_stripe: FakeStripe,
    base_env: dict[str, str],
    make_container: Any,
    user_id: str,
) -> None:
    fake_stripe.reply("POST", PI, *[RATE_LIMITED] * 100)
    env = {
        **base_env,
        "STRIPE_SECRET_KEY": "sk_test_throttled_0123456789",
        "STRIPE_API_BASE": fake_stripe.url,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "PAYMENTS_REQUEST_TIMEOUT": "1.5",
    }
    container: Container = make_container(env)
    body = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa"}
    headers = {**bearer(user_id), "Idempotency-Key": "order-429"}
    with TestClient(create_app(container, run_projections=False)) as client:
        answer = client.post("/api/payments/process", json=body, headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert int(answer.headers["Retry-After"]) >= 1
        payment_id = payment_id_for(user_id, "order-429")
        shown = client.get(f"/api/payments/{payment_id}", headers=bearer(user_id))
        assert shown.json()["status"] == "pending"

"""Stripe stops answering in the middle of a charge: nothing is lost, the card is charged once."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import bearer
from tests.e2e.test_payment_flow import VISA
from tests.fake_stripe import FakeStripe, Reply

pytestmark = pytest.mark.integration


@pytest.fixture
def client(
    backend_env: dict[str, str],
    fake_stripe: FakeStripe,
    make_container: Callable[[dict[str, str]], Container],
) -> Iterator[TestClient[Any]]:
    env = {
        **backend_env,
        "STRIPE_SECRET_KEY": "sk_test_outage_0123456789",
        "STRIPE_API_BASE": fake_stripe.url,
        "STRIPE_READ_TIMEOUT": "1",
        "STRIPE_MAX_NETWORK_RETRIES": "0",
    }
    with TestClient(create_app(make_container(env))) as test_client:
        yield test_client


def test_a_retry_after_stripe_timed_out_answers_the_one_payment(
    client: TestClient[Any], fake_stripe: FakeStripe, user_id: str
) -> None:
    headers = {**bearer(user_id), "Idempotency-Key": "order-outage"}
    fake_stripe.reply("POST", "/v1/payment_intents", Reply(delay=3.0))

    lost = client.post("/api/payments/process", json=VISA, headers=headers)
    assert lost.status_code == 500
    assert lost.json()["error"]["code"] == "STRIPE_ERROR"

    retried = client.post("/api/payments/process", json=VISA, headers=headers)
    assert retried.status_code == 201, retried.text
    payment = retried.json()
    assert payment["status"] == "succeeded"
    assert list(fake_stripe.intents) == [payment["stripePaymentIntentId"]]
    details = client.get(f"/api/payments/{payment['paymentId']}", headers=headers).json()
    assert (details["status"], details["amount"]) == ("succeeded", 9999)

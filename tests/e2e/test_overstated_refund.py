"""A signed refund from Stripe above what is left of the payment never takes it past its amount."""

from typing import Any

from litestar.testing import TestClient

from tests.conftest import bearer
from tests.e2e.test_webhooks import deliver, details
from tests.stripe_fixtures import charge_refunded, event, new_id, refund

Client = TestClient[Any]
VISA = {"amount": 5000, "currency": "usd", "paymentMethodId": "pm_card_visa"}


def charged(client: Client, user_id: str) -> tuple[str, str]:
    made = client.post("/api/payments/process", json=VISA, headers=bearer(user_id))
    assert made.status_code == 201, made.text
    return made.json()["paymentId"], made.json()["stripePaymentIntentId"]


def event_types(client: Client, payment_id: str) -> list[str]:
    trail = client.get(f"/api/payments/{payment_id}/events", headers=bearer("ops", "admin"))
    return [e["type"] for e in trail.json()["events"]]


def test_an_outside_refund_above_the_amount_is_capped_and_recorded(
    client: Client, user_id: str
) -> None:
    payment_id, pi = charged(client, user_id)
    huge = refund(new_id("re"), pi, 10**12, "succeeded")

    deliver(client, event("charge.refunded", charge_refunded(pi, 5000, [huge])))
    deliver(client, event("charge.refunded", charge_refunded(pi, 5000, [huge])))  # again

    payment = details(client, payment_id)
    assert payment["refundedAmount"] == 5000
    assert payment["status"] == "refunded"
    assert event_types(client, payment_id).count("RefundOverstated") == 1
    metrics = client.get("/metrics").text
    assert 'outcome="refund_capped",type="charge.refunded"' in metrics


def test_an_outside_refund_after_a_partial_one_takes_only_what_is_left(
    client: Client, user_id: str
) -> None:
    payment_id, pi = charged(client, user_id)
    first = refund(new_id("re"), pi, 3000, "succeeded")
    second = refund(new_id("re"), pi, 4000, "succeeded")

    deliver(client, event("charge.refunded", charge_refunded(pi, 5000, [first])))
    deliver(client, event("charge.refunded", charge_refunded(pi, 5000, [first, second])))
    third = refund(new_id("re"), pi, 10, "succeeded")  # nothing is left for it
    deliver(client, event("charge.refunded", charge_refunded(pi, 5000, [first, second, third])))

    payment = details(client, payment_id)
    assert payment["refundedAmount"] == 5000
    assert sorted(r["amount"] for r in payment["refunds"]) == [0, 2000, 3000]
    assert event_types(client, payment_id).count("RefundOverstated") == 2

"""A change a Stripe webhook made names that Stripe event in the payment's audit trail."""

from typing import Any

from litestar.testing import TestClient

from tests.conftest import bearer
from tests.stripe_fixtures import event, payment_intent, signed

Client = TestClient[Any]


def test_a_webhook_change_is_caused_by_its_stripe_event(client: Client, user_id: str) -> None:
    body = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_authenticationRequired"}
    made = client.post("/api/payments/process", json=body, headers=bearer(user_id)).json()
    assert made["status"] == "requires_action"
    succeeded = event(
        "payment_intent.succeeded",
        payment_intent(made["stripePaymentIntentId"], "succeeded", payment_id=made["paymentId"]),
    )

    delivered = client.post("/api/webhooks/stripe", **signed(succeeded))

    assert delivered.status_code == 200, delivered.text
    trail = client.get(f"/api/payments/{made['paymentId']}/events", headers=bearer("ops", "admin"))
    events = trail.json()["events"]
    caused_by_stripe = [
        e["type"] for e in events if e["cause"] == {"stripeEventId": succeeded["id"]}
    ]
    assert caused_by_stripe == ["Succeeded", "StripeEventReceived"]
    assert all(e["cause"].get("userId") == user_id for e in events[:3])

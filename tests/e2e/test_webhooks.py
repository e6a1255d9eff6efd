"""Stripe's webhook over HTTP: each handled event type moves the payment it names."""

from typing import Any
from uuid import UUID

from litestar.testing import TestClient

from entrypoints.container import Container
from tests.conftest import bearer
from tests.stripe_fixtures import (
    charge_refunded,
    dispute,
    event,
    new_id,
    payment_intent,
    payment_method,
    refund,
    signed,
)

Client = TestClient[Any]
URL = "/api/webhooks/stripe"
THREE_DS = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_authenticationRequired"}


def start_payment(client: Client, user_id: str, amount: int = 2500) -> tuple[str, str]:
    """A payment waiting for 3-D Secure: its id and its PaymentIntent's id."""
    body = {**THREE_DS, "amount": amount}
    made = client.post("/api/payments/process", json=body, headers=bearer(user_id))
    assert made.status_code == 201, made.text
    return made.json()["paymentId"], made.json()["stripePaymentIntentId"]


def deliver(client: Client, evt: dict[str, Any]) -> Any:
    response = client.post(URL, **signed(evt))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}
    return response


def details(client: Client, payment_id: str) -> dict[str, Any]:
    return client.get(f"/api/payments/{payment_id}", headers=bearer("ops", "admin")).json()


def test_a_payment_lives_through_its_webhooks(client: Client, container: Container) -> None:
    payment_id, pi = start_payment(client, "webhook-user")
    assert details(client, payment_id)["status"] == "requires_action"

    deliver(client, event("payment_intent.processing", payment_intent(pi, "processing")))
    assert details(client, payment_id)["status"] == "processing"
    deliver(client, event("payment_intent.succeeded", payment_intent(pi, "succeeded")))
    assert details(client, payment_id)["status"] == "succeeded"
    # a late requires_action never moves a success back
    deliver(client, event("payment_intent.requires_action", payment_intent(pi, "requires_action")))
    assert details(client, payment_id)["status"] == "succeeded"

    # a refund made in Stripe's dashboard: imported, pending, then settled
    outside = refund(new_id("re"), pi, 1000, "pending")
    deliver(client, event("refund.created", outside))
    after_created = details(client, payment_id)
    assert after_created["status"] == "succeeded"
    assert [(r["refundId"], r["amount"]) for r in after_created["refunds"]] == [
        (outside["id"], 1000)
    ]
    deliver(client, event("refund.updated", {**outside, "status": "succeeded"}))
    deliver(
        client,
        event("charge.refunded", charge_refunded(pi, 2500, [{**outside, "status": "succeeded"}])),
    )
    deliver(client, event("charge.refund.updated", {**outside, "status": "succeeded"}))
    partly = details(client, payment_id)
    assert partly["status"] == "partially_refunded" and partly["refundedAmount"] == 1000

    # a second outside refund of the rest, then a refund that failed
    rest = refund(new_id("re"), pi, 1500, "succeeded")
    deliver(client, event("refund.updated", rest))
    assert details(client, payment_id)["status"] == "refunded"
    deliver(client, event("refund.failed", {**rest, "status": "failed"}))
    back = details(client, payment_id)
    assert back["status"] == "partially_refunded" and back["refundedAmount"] == 1000

    case = new_id("dp")
    deliver(client, event("charge.dispute.created", dispute(case, pi, 2500, "needs_response")))
    deliver(client, event("charge.dispute.closed", dispute(case, pi, 2500, "won")))
    payment = container.payment_store().find(UUID(payment_id))
    assert payment is not None and payment.disputes == {case: "closed"}


def test_failure_and_cancellation_arrive_by_webhook(client: Client) -> None:
    failed_id, failed_pi = start_payment(client, "webhook-user")
    error = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "No funds."}
    deliver(
        client,
        event(
            "payment_intent.payment_failed",
            payment_intent(failed_pi, "requires_payment_method", error=error),
        ),
    )
    failed = details(client, failed_id)
    assert failed["status"] == "failed" and failed["failureCode"] == "card_declined"

    canceled_id, canceled_pi = start_payment(client, "webhook-user")
    deliver(
        client,
        event(
            "payment_intent.canceled",
            payment_intent(canceled_pi, "canceled", cancellation_reason="abandoned"),
        ),
    )
    assert details(client, canceled_id)["status"] == "canceled"


def test_metadata_finds_a_payment_whose_intent_was_never_recorded(client: Client) -> None:
    payment_id, pi = start_payment(client, "webhook-user")
    other_pi = new_id("pi")
    # same payment id but another PaymentIntent than the recorded one: not allowed to move it
    deliver(
        client,
        event(
            "payment_intent.succeeded", payment_intent(other_pi, "succeeded", payment_id=payment_id)
        ),
    )
    assert details(client, payment_id)["status"] == "requires_action"
    deliver(
        client,
        event("payment_intent.succeeded", payment_intent(pi, "succeeded", payment_id=payment_id)),
    )
    assert details(client, payment_id)["status"] == "succeeded"


def test_a_redelivery_answers_200_and_changes_nothing(client: Client, container: Container) -> None:
    payment_id, pi = start_payment(client, "webhook-user")
    evt = event("payment_intent.succeeded", payment_intent(pi, "succeeded"))
    deliver(client, evt)
    store = container.payment_store()
    trail = store.events_of(UUID(payment_id))
    deliver(client, evt)
    deliver(client, evt)
    assert store.events_of(UUID(payment_id)) == trail
    received = [e for e in trail if type(e).__name__ == "StripeEventReceived"]
    assert [(e.event_id, e.event_type, e.outcome) for e in received] == [
        (evt["id"], "payment_intent.succeeded", "applied")
    ]
    receipt = store.find_receipt(evt["id"])
    assert receipt is not None and receipt.payment_id == payment_id
    assert receipt.stripe_created == evt["created"] and receipt.created_on is not None


def test_payment_method_events_of_other_customers_are_kept_and_ignored(
    client: Client, container: Container
) -> None:
    attached = event("payment_method.attached", payment_method(new_id("pm"), "cus_123"))
    detached = event("payment_method.detached", payment_method(new_id("pm"), None))
    deliver(client, attached)
    deliver(client, detached)
    store = container.payment_store()
    assert [store.find_receipt(e["id"]).outcome for e in (attached, detached)] == [  # type: ignore[union-attr]
        "ignored",
        "ignored",
    ]

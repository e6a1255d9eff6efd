"""GET /api/payments/{id}/events: a payment's story, with who or what caused each step."""

from typing import Any
from uuid import uuid4

from litestar.testing import TestClient

from tests.conftest import bearer

Client = TestClient[Any]
VISA = {"amount": 2500, "currency": "eur", "paymentMethodId": "pm_card_visa", "courseId": "c-1"}


def test_an_admin_reads_every_event_with_its_request_and_user(client: Client, user_id: str) -> None:
    me, admin = bearer(user_id), bearer("ops-7", "admin")
    charged = client.post(
        "/api/payments/process",
        json={**VISA, "metadata": {"cohort": "spring"}},
        headers={**me, "X-Request-ID": "req-charge-1"},
    )
    assert charged.status_code == 201, charged.text
    assert charged.headers["X-Request-ID"] == "req-charge-1"
    payment_id = charged.json()["paymentId"]
    refunded = client.post(
        "/api/payments/refund", json={"paymentId": payment_id, "amount": 500}, headers=admin
    )
    assert refunded.status_code == 200, refunded.text
    refund_request_id = refunded.headers["X-Request-ID"]
    assert len(refund_request_id) == 32  # none was sent: the service made one up

    trail = client.get(f"/api/payments/{payment_id}/events", headers=admin)

    assert trail.status_code == 200, trail.text
    body = trail.json()
    assert body["paymentId"] == payment_id
    events = body["events"]
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events] == [
        "Initiated", "IntentCreated", "Succeeded", "RefundRequested", "Refunded",
    ]  # fmt: skip
    charge_cause = {"requestId": "req-charge-1", "userId": user_id}
    assert [e["cause"] for e in events[:3]] == [charge_cause] * 3
    refund_cause = {"requestId": refund_request_id, "userId": "ops-7"}
    assert [e["cause"] for e in events[3:]] == [refund_cause] * 2
    initiated = events[0]["data"]
    assert initiated["amount"] == 2500 and initiated["currency"] == "eur"
    assert initiated["userId"] == user_id and initiated["metadata"] == {"cohort": "spring"}
    assert "originatorTopic" not in initiated  # the library's bookkeeping is not the story
    assert events[4]["data"]["amount"] == 500
    assert all(e["occurredAt"] for e in events)
    assert events[0]["occurredAt"] <= events[-1]["occurredAt"]


def test_only_admins_read_audit_trails_and_unknown_payments_are_not_found(
    client: Client, user_id: str
) -> None:
    me = bearer(user_id)
    payment_id = client.post("/api/payments/process", json=VISA, headers=me).json()["paymentId"]

    own = client.get(f"/api/payments/{payment_id}/events", headers=me)
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "FORBIDDEN"
    unknown = client.get(f"/api/payments/{uuid4()}/events", headers=bearer("ops", "admin"))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NOT_FOUND"
    anonymous = client.get(f"/api/payments/{payment_id}/events")
    assert anonymous.status_code == 401


def test_an_unsafe_request_id_is_replaced(client: Client, user_id: str) -> None:
    response = client.get(
        "/api/payments/history", headers={**bearer(user_id), "X-Request-ID": "a b\tc" * 50}
    )
    assert response.status_code == 200
    assert len(response.headers["X-Request-ID"]) == 32

"""The README's flow through the HTTP API, on the embedded default and on PostgreSQL."""

from typing import Any

from litestar.testing import TestClient

from tests.conftest import bearer, eventually

Client = TestClient[Any]
VISA = {
    "amount": 9999,
    "currency": "usd",
    "paymentMethodId": "pm_card_visa",
    "courseId": "course-123",
}


def test_charge_read_refund_half_refund_rest(client: Client, user_id: str) -> None:
    me, admin = bearer(user_id), bearer("ops", "admin")
    body = {**VISA, "metadata": {"courseTitle": "Advanced TypeScript"}}

    charged = client.post("/api/payments/process", json=body, headers=me)
    assert charged.status_code == 201, charged.text
    payment = charged.json()
    assert payment["success"] is True
    assert payment["status"] == "succeeded"
    assert payment["stripePaymentIntentId"].startswith("pi_")
    assert payment["clientSecret"].startswith(payment["stripePaymentIntentId"])
    payment_id = payment["paymentId"]

    def settled_history() -> list[dict[str, Any]]:
        rows = client.get("/api/payments/history", headers=me).json()["payments"]
        return rows if rows and rows[0]["status"] == "succeeded" else []

    history = eventually(settled_history)
    assert [p["id"] for p in history] == [payment_id]
    assert history[0]["amount"] == 9999 and history[0]["status"] == "succeeded"

    details = client.get(f"/api/payments/{payment_id}", headers=me).json()
    assert details["metadata"] == {"courseTitle": "Advanced TypeScript"}
    assert details["courseId"] == "course-123"

    half = client.post(
        "/api/payments/refund", json={"paymentId": payment_id, "amount": 5000}, headers=admin
    )
    assert half.status_code == 200, half.text
    assert half.json()["status"] == "partially_refunded"
    rest = client.post("/api/payments/refund", json={"paymentId": payment_id}, headers=admin)
    assert rest.json()["amount"] == 4999
    assert rest.json()["status"] == "refunded"
    again = client.post("/api/payments/refund", json={"paymentId": payment_id}, headers=admin)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "ALREADY_REFUNDED"

    details = client.get(f"/api/payments/{payment_id}", headers=me).json()
    assert details["refundedAmount"] == 9999
    assert [r["amount"] for r in details["refunds"]] == [5000, 4999]
    refunded = eventually(
        lambda: client.get("/api/payments/history?status=refunded", headers=me).json()["total"]
    )
    assert refunded == 1


def test_a_repeated_request_returns_the_same_payment(client: Client, user_id: str) -> None:
    headers = {**bearer(user_id), "Idempotency-Key": "order-42"}
    first = client.post("/api/payments/process", json=VISA, headers=headers)
    second = client.post("/api/payments/process", json=VISA, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    mismatch = client.post("/api/payments/process", json={**VISA, "amount": 1234}, headers=headers)
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["code"] == "IDEMPOTENCY_MISMATCH"


def test_a_decline_is_recorded_and_carries_the_payment_id(client: Client, user_id: str) -> None:
    me = bearer(user_id)
    body = {**VISA, "paymentMethodId": "pm_card_chargeDeclinedInsufficientFunds"}
    declined = client.post("/api/payments/process", json=body, headers=me)
    assert declined.status_code == 402
    assert declined.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    payment_id = declined.json()["paymentId"]
    assert client.get(f"/api/payments/{payment_id}", headers=me).json()["status"] == "failed"
    card = client.post(
        "/api/payments/process",
        json={**VISA, "paymentMethodId": "pm_card_chargeDeclined"},
        headers=me,
    )
    assert (card.status_code, card.json()["error"]["code"]) == (402, "CARD_DECLINED")
    failed = eventually(
        lambda: client.get("/api/payments/history?status=failed", headers=me).json()["total"] == 2
    )
    assert failed


def test_another_users_payment_is_not_found(client: Client, user_id: str) -> None:
    charged = client.post("/api/payments/process", json=VISA, headers=bearer(user_id)).json()
    theirs = client.get(f"/api/payments/{charged['paymentId']}", headers=bearer("mallory"))
    assert theirs.status_code == 404
    assert theirs.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "payment not found"},
    }
    assert (
        client.get(
            f"/api/payments/{charged['paymentId']}", headers=bearer("ops", "admin")
        ).status_code
        == 200
    )
    assert eventually(
        lambda: client.get("/api/payments/history", headers=bearer("mallory")).json()["total"] == 0
    )


def test_openapi_and_health(client: Client) -> None:
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/payments/process", "/api/payments/history", "/api/payments/refund"} <= set(paths)
    for route in ("/api/payments/process", "/api/payments/refund"):  # both take Idempotency-Key
        answers = paths[route]["post"]["responses"]
        assert {"409", "422", "503"} <= set(answers), route
    assert client.get("/schema").status_code == 200
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["components"]["eventStore"]["status"] == "ok"

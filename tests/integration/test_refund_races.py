"""Refunds racing on one payment through the HTTP server: never more than the amount."""

from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import bearer
from tests.integration.conftest import Service, fire, fire_all

pytestmark = pytest.mark.integration

REFUND = "/api/payments/refund"
AMOUNT = 10_000


def paid(service: Service, user_id: str) -> str:
    body = {"amount": AMOUNT, "currency": "usd", "paymentMethodId": "pm_card_visa"}
    answer = httpx.post(f"{service.url}/api/payments/process", json=body, headers=bearer(user_id))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["paymentId"])


def refunded(service: Service, user_id: str, payment_id: str) -> int:
    details = httpx.get(f"{service.url}/api/payments/{payment_id}", headers=bearer(user_id))
    return int(details.json()["refundedAmount"])


def test_different_refunds_racing_never_refund_more_than_the_amount(
    start_service: Callable[..., Service], user_id: str
) -> None:
    service = start_service(delay=0.05)
    payment_id = paid(service, user_id)
    requests = [
        (
            {"paymentId": payment_id, "amount": 4_000},
            {**bearer("ops", "admin"), "Idempotency-Key": f"r-{n}"},
        )
        for n in range(6)
    ]
    answers = fire_all(service.url, REFUND, requests)
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 2, 400: 4}, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 400} == {
        "VALIDATION_ERROR"
    }
    assert sum(a.json()["amount"] for a in answers if a.status_code == 200) == 8_000
    assert service.gateway.refunded == 8_000
    assert refunded(service, user_id, payment_id) == 8_000


def test_one_refund_sent_twenty_times_at_once_refunds_once(
    start_service: Callable[..., Service], user_id: str
) -> None:
    service = start_service(delay=0.3)
    payment_id = paid(service, user_id)
    headers = {**bearer("ops", "admin"), "Idempotency-Key": "refund-once"}
    answers = fire(service.url, REFUND, {"paymentId": payment_id, "amount": 3_000}, headers, 20)
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {200, 409} and statuses[409] >= 1, {a.text for a in answers}
    fresh = [a for a in answers if a.status_code == 200 and "idempotent-replayed" not in a.headers]
    assert len(fresh) == 1
    assert len(service.gateway.refund_calls) == 1
    assert refunded(service, user_id, payment_id) == 3_000

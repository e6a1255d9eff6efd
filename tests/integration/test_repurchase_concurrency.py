"""Concurrent re-purchases after a full refund make exactly one new charge (PostgreSQL + Redis)."""

from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import bearer
from tests.integration.conftest import Service, fire

pytestmark = pytest.mark.integration

PROCESS = "/api/payments/process"
COURSE = {"amount": 5000, "currency": "usd", "paymentMethodId": "pm_card_visa", "courseId": "c-5"}


def test_concurrent_repurchases_after_a_full_refund_charge_once_more(
    start_service: Callable[..., Service], user_id: str
) -> None:
    service = start_service()
    with httpx.Client(base_url=service.url, timeout=30) as client:
        first = client.post(PROCESS, json=COURSE, headers=bearer(user_id))
        refunded = client.post(
            "/api/payments/refund",
            json={"paymentId": first.json()["paymentId"]},
            headers=bearer("ops", "admin"),
        )
    assert refunded.status_code == 200, refunded.text

    answers = fire(service.url, PROCESS, COURSE, bearer(user_id), 20)

    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    new_ids = {a.json()["paymentId"] for a in answers if a.status_code == 201}
    assert len(new_ids) == 1
    assert new_ids != {first.json()["paymentId"]}
    assert len(service.payments()) == 2
    assert len(service.gateway.intents) == 2, "one charge for the first purchase, one for this"

"""Duplicates under concurrency on real PostgreSQL and Redis, through a real HTTP server."""

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from dependency_injector import providers

from tests.conftest import bearer
from tests.integration.conftest import Service, fire
from tests.redis_keys import delete_prefix

pytestmark = pytest.mark.integration

PROCESS = "/api/payments/process"
VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa", "courseId": "c-1"}
DUPLICATES = 50


def assert_one_answer_and_the_rest_replays_or_conflicts(answers: list[httpx.Response]) -> None:
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    fresh = [a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers]
    replays = [a for a in answers if a.headers.get("idempotent-replayed") == "true"]
    assert len(fresh) == 1, statuses
    assert all(r.content == fresh[0].content for r in replays)
    for conflict in (a for a in answers if a.status_code == 409):
        assert conflict.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
        assert conflict.headers["Retry-After"] == "1"
    # A 409 is only possible while the first request is still running: the handlers overlapped.
    assert statuses[409] >= 1, statuses


@pytest.mark.parametrize("header", [{"Idempotency-Key": "order-1"}, {}], ids=["key", "derived"])
def test_fifty_identical_requests_charge_once(
    start_service: Callable[..., Service], user_id: str, header: dict[str, str]
) -> None:
    service = start_service()
    answers = fire(service.url, PROCESS, VISA, {**bearer(user_id), **header}, DUPLICATES)
    assert_one_answer_and_the_rest_replays_or_conflicts(answers)
    assert len(service.gateway.charge_calls) == 1
    assert service.gateway.refused == [], "the gateway never saw a second request for the key"
    assert len(service.payments()) == 1


def test_with_the_cache_deleted_a_retry_still_charges_once(
    start_service: Callable[..., Service], user_id: str
) -> None:
    service = start_service(delay=0.0)
    headers = {**bearer(user_id), "Idempotency-Key": "order-2"}
    with httpx.Client(base_url=service.url) as client:
        first = client.post(PROCESS, json=VISA, headers=headers)
        assert delete_prefix(service.redis_url, service.prefix) == 1
        retry = client.post(PROCESS, json=VISA, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert len(service.gateway.charge_calls) == 1
    assert len(service.payments()) == 1


def test_with_redis_down_payments_work_charge_once_and_readiness_is_degraded(
    start_service: Callable[..., Service], user_id: str, closed_port: int
) -> None:
    service = start_service(redis_url=f"redis://127.0.0.1:{closed_port}/0")
    answers = fire(service.url, PROCESS, VISA, {**bearer(user_id), "Idempotency-Key": "k"}, 50)
    assert_one_answer_and_the_rest_replays_or_conflicts(answers)
    assert len(service.gateway.charge_calls) == 1
    assert service.gateway.refused == []
    assert len(service.payments()) == 1
    ready = httpx.get(f"{service.url}/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"  # payments go on without Redis
    assert ready.json()["components"]["redis"]["status"] == "degraded"
    assert ready.json()["components"]["eventStore"]["status"] == "ok"


def test_two_api_processes_without_redis_share_one_payment_and_one_stripe_charge(
    start_service: Callable[..., Service], user_id: str, closed_port: int
) -> None:
    """No shared lock: the event store and Stripe's idempotency key (409 while in flight) remain."""
    down = f"redis://127.0.0.1:{closed_port}/0"
    one, two = start_service(redis_url=down), start_service(redis_url=down)
    two.container.gateway.override(providers.Object(one.gateway))
    headers = {**bearer(user_id), "Idempotency-Key": "order-3"}
    with ThreadPoolExecutor(2) as pool:
        batches = list(
            pool.map(lambda url: fire(url, PROCESS, VISA, headers, 10), [one.url, two.url])
        )
    answers = [a for batch in batches for a in batch]
    assert {a.status_code for a in answers} <= {201, 409}
    payment_ids = {a.json()["paymentId"] for a in answers if a.status_code == 201}
    assert len(payment_ids) == 1
    assert len(one.payments()) == 1
    assert len(one.gateway.intents) == 1, "every gateway call carries the one Stripe key"

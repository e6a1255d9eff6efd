"""A Redis that accepts connections and never answers costs one short timeout, then is skipped."""

import logging
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import bearer
from tests.hung_server import hung_redis
from tests.integration.conftest import Service, fire_all

# Generous: proves "does not hang" (20 charges took 21 s one at a time before the breaker).
ALL_DONE_WITHIN_SECONDS = 8.0


@pytest.fixture
def hung_url() -> Iterator[str]:
    with hung_redis() as url:
        yield url


def charge(course: str) -> dict[str, object]:
    return {
        "amount": 2500,
        "currency": "usd",
        "paymentMethodId": "pm_card_visa",
        "courseId": course,
    }


def test_concurrent_charges_with_redis_hung_all_succeed_quickly_and_readiness_degrades(
    start_service: Callable[..., Service],
    base_env: dict[str, str],
    hung_url: str,
    user_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base_env["PAYMENTS_RATE_LIMIT_PER_MINUTE"] = "1000"  # the rate limiter is in the path too
    service = start_service(redis_url=hung_url, delay=0.05)
    requests = [(charge(f"course-{i}"), bearer(user_id)) for i in range(20)]

    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        answers = fire_all(service.url, "/api/payments/process", requests)
        elapsed = time.monotonic() - started
        ready = httpx.get(f"{service.url}/health/ready", timeout=10)

    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers]
    assert elapsed < ALL_DONE_WITHIN_SECONDS
    assert len({a.json()["paymentId"] for a in answers}) == 20
    assert len(service.gateway.intents) == 20
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["components"]["redis"]["status"] == "degraded"
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1, [r.getMessage() for r in unavailable]


def test_the_rate_limit_holds_per_process_while_redis_hangs(
    start_service: Callable[..., Service], base_env: dict[str, str], hung_url: str
) -> None:
    base_env["PAYMENTS_RATE_LIMIT_PER_MINUTE"] = "5"
    service = start_service(redis_url=hung_url, delay=0.05)
    user = f"user-{uuid.uuid4().hex}"
    requests = [(charge(f"course-{i}"), bearer(user)) for i in range(8)]

    answers = fire_all(service.url, "/api/payments/process", requests)

    assert sorted(a.status_code for a in answers) == [201] * 5 + [429] * 3

"""Idempotency over HTTP: replays, mismatches, bad keys, declines, refunds, metric and log."""

import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from adapters.idempotency_redis import RedisIdempotencyStore
from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import bearer
from tests.redis_keys import unique_prefix

Client = TestClient[Any]
PROCESS = "/api/payments/process"
VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa", "courseId": "c-1"}
DECLINED = {**VISA, "paymentMethodId": "pm_card_chargeDeclined"}


def keyed(user_id: str, key: str, *roles: str) -> dict[str, str]:
    return {**bearer(user_id, *roles), "Idempotency-Key": key}


def test_a_replay_has_the_first_status_and_body_and_says_so(client: Client, user_id: str) -> None:
    first = client.post(PROCESS, json=VISA, headers=keyed(user_id, "order-1"))
    again = client.post(PROCESS, json=VISA, headers=keyed(user_id, "order-1"))
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content


def test_the_same_key_with_another_body_is_422_and_charges_nothing(
    client: Client, user_id: str
) -> None:
    client.post(PROCESS, json=VISA, headers=keyed(user_id, "order-1"))
    other = client.post(PROCESS, json={**VISA, "amount": 9999}, headers=keyed(user_id, "order-1"))
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "IDEMPOTENCY_MISMATCH"
    history = client.get(f"/api/payments/{other.json().get('paymentId')}", headers=bearer(user_id))
    assert history.status_code == 404


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\x7fkey", "tab\tkey"])
def test_a_malformed_key_is_400_validation_error(client: Client, user_id: str, key: str) -> None:
    answer = client.post(PROCESS, json=VISA, headers=keyed(user_id, key))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "Idempotency-Key" in answer.json()["error"]["message"]
    assert client.post(PROCESS, json=VISA, headers=keyed(user_id, "ok")).status_code == 201


def test_keys_are_scoped_to_the_user(client: Client) -> None:
    mine = client.post(PROCESS, json=VISA, headers=keyed("user-a", "shared-key"))
    theirs = client.post(PROCESS, json=VISA, headers=keyed("user-b", "shared-key"))
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["paymentId"] != theirs.json()["paymentId"]


def test_a_decline_replays_for_an_explicit_key_but_releases_a_derived_one(
    client: Client, user_id: str
) -> None:
    first = client.post(PROCESS, json=DECLINED, headers=keyed(user_id, "order-9"))
    again = client.post(PROCESS, json=DECLINED, headers=keyed(user_id, "order-9"))
    assert (first.status_code, again.status_code) == (402, 402)
    assert again.headers["Idempotent-Replayed"] == "true" and again.content == first.content

    derived = client.post(PROCESS, json=DECLINED, headers=bearer(user_id))
    retried = client.post(PROCESS, json=DECLINED, headers=bearer(user_id))
    assert (derived.status_code, retried.status_code) == (402, 402)
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["paymentId"] != derived.json()["paymentId"]


def test_without_a_header_the_same_purchase_replays_by_its_derived_key(
    client: Client, user_id: str
) -> None:
    first = client.post(PROCESS, json=VISA, headers=bearer(user_id))
    again = client.post(PROCESS, json=VISA, headers=bearer(user_id))
    assert again.headers["Idempotent-Replayed"] == "true" and again.content == first.content


def test_a_refund_is_idempotent_by_its_key(client: Client, user_id: str) -> None:
    payment_id = client.post(PROCESS, json=VISA, headers=bearer(user_id)).json()["paymentId"]
    body = {"paymentId": payment_id, "amount": 1000}
    admin = keyed("ops", "refund-1", "admin")
    first = client.post("/api/payments/refund", json=body, headers=admin)
    again = client.post("/api/payments/refund", json=body, headers=admin)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.content == first.content
    other = client.post("/api/payments/refund", json={**body, "amount": 500}, headers=admin)
    assert (other.status_code, other.json()["error"]["code"]) == (422, "IDEMPOTENCY_MISMATCH")
    details = client.get(f"/api/payments/{payment_id}", headers=bearer(user_id)).json()
    assert details["refundedAmount"] == 1000
    assert len(details["refunds"]) == 1


def test_replays_are_counted_and_logged_by_the_keys_hash_only(
    client: Client, user_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    def replays() -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith("duplicate_payment_attempts_total{") and (
                'outcome="replayed"' in line and 'route="process"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = replays()
    body = {**VISA, "metadata": {"note": "secret-ish body text"}}
    client.post(PROCESS, json=body, headers=keyed(user_id, "order-77"))
    with caplog.at_level(logging.INFO, logger="entrypoints.http.idempotency"):
        client.post(PROCESS, json=body, headers=keyed(user_id, "order-77"))
    assert replays() == before + 1
    key_hash = hashlib.sha256(f"process\x1f{user_id}\x1forder-77".encode()).hexdigest()
    logged = [r.getMessage() for r in caplog.records if "idempotent replay" in r.getMessage()]
    assert len(logged) == 1 and key_hash in logged[0]
    assert "order-77" not in logged[0] and "secret-ish" not in logged[0]


@pytest.fixture
def redis_client(
    base_env: dict[str, str],
    redis_server_url: str,
    make_container: Callable[[dict[str, str]], Container],
) -> Iterator[tuple[Client, str, str]]:
    container = make_container({**base_env, "PAYMENTS_REDIS_URL": redis_server_url})
    with unique_prefix(redis_server_url) as prefix:
        store = RedisIdempotencyStore.from_url(redis_server_url, prefix=prefix)
        container.idempotency_store.override(providers.Object(store))
        with TestClient(create_app(container)) as test_client:
            yield test_client, redis_server_url, prefix


def test_on_redis_a_replay_comes_from_redis_and_readiness_reports_it(
    redis_client: tuple[Client, str, str], user_id: str
) -> None:
    client, url, prefix = redis_client
    first = client.post(PROCESS, json=VISA, headers=keyed(user_id, "order-5"))
    again = client.post(PROCESS, json=VISA, headers=keyed(user_id, "order-5"))
    assert again.headers["Idempotent-Replayed"] == "true" and again.content == first.content
    stored = RedisIdempotencyStore.from_url(url, prefix=prefix)
    key_hash = hashlib.sha256(f"process\x1f{user_id}\x1forder-5".encode()).hexdigest()
    assert stored._client.ttl(prefix + key_hash) > 23 * 3600
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["components"]["redis"] == {"status": "ok"}

"""A worker killed between saving `Initiated` and calling the gateway: the retry completes it."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from domain.payment import Payment
from domain.payment_status import PaymentStatus, payment_id_for
from tests.conftest import make_token
from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VISA = {"amount": 4200, "currency": "eur", "paymentMethodId": "pm_card_visa"}
LOCK_TTL = 2.0


def test_the_retry_after_a_killed_worker_completes_the_same_payment(
    start_service: Callable[..., Service],
    base_env: dict[str, str],
    postgres_url: str,
    redis_server_url: str,
    user_id: str,
) -> None:
    service = start_service(delay=0.0)
    token = make_token(user_id)
    env = {
        **os.environ,
        **base_env,
        "PAYMENTS_DATABASE_URL": postgres_url,
        "PAYMENTS_REDIS_URL": redis_server_url,
    }
    args = [service.prefix, str(LOCK_TTL), token, "order-crash", json.dumps(VISA)]
    worker = subprocess.run(
        [sys.executable, "-m", "tests.integration.crashing_worker", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    killed_at = time.monotonic()
    assert worker.returncode == -signal.SIGKILL, worker.stderr[-2000:]

    payment_id = payment_id_for(user_id, "order-crash", 0)
    store = service.container.payment_store()
    left = store.find(payment_id)
    assert left is not None and left.status is PaymentStatus.PENDING
    assert service.gateway.charge_calls == []

    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "order-crash"}
    with httpx.Client(base_url=service.url) as client:
        first_sent = time.monotonic()
        answers = [client.post("/api/payments/process", json=VISA, headers=headers)]
        while answers[-1].status_code == 409 and time.monotonic() < killed_at + LOCK_TTL + 5:
            time.sleep(0.2)
            answers.append(client.post("/api/payments/process", json=VISA, headers=headers))
    statuses = [a.status_code for a in answers]
    if first_sent - killed_at < LOCK_TTL - 0.5:
        assert statuses[0] == 409, "the dead worker's lock holds until it expires"
    assert statuses[-1] == 201 and set(statuses[:-1]) <= {409}, statuses
    assert answers[-1].json()["paymentId"] == str(payment_id)
    assert answers[-1].json()["status"] == "succeeded"
    assert len(service.gateway.charge_calls) == 1
    assert service.gateway.charge_calls[0].idempotency_key == f"payment-{payment_id}"
    events = [type(e) for e in store.events_of(payment_id)]
    assert events == [Payment.Initiated, Payment.IntentCreated, Payment.Succeeded]

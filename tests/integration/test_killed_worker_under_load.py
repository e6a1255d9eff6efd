"""A worker SIGKILLed while both serve charges against Stripe: nothing acknowledged is lost,
nothing is charged twice, and every retry with its key settles its payment."""

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from domain.payment_status import PaymentStatus, payment_id_for
from tests.cli_process import COMMAND, cli_env, free_port, worker_pids
from tests.conftest import bearer, eventually
from tests.fake_stripe import FakeStripe

pytestmark = [pytest.mark.integration, pytest.mark.slow]
VISA = {"amount": 3100, "currency": "usd", "paymentMethodId": "pm_card_visa"}
CLIENTS, CHARGES_PER_CLIENT = 24, 6


@pytest.fixture
def serving_two_workers(
    tmp_path: Path, base_env: dict[str, str], postgres_url: str, redis_server_url: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], FakeStripe]]:
    stripe = FakeStripe(latency=0.2).start()
    port = free_port()
    env = {
        **base_env,
        "PAYMENTS_DATABASE_URL": postgres_url,
        "PAYMENTS_REDIS_URL": redis_server_url,
        "STRIPE_SECRET_KEY": "sk_test_killed_worker_0123456789",
        "STRIPE_API_BASE": stripe.url,
        "STRIPE_MAX_NETWORK_RETRIES": "2",
    }
    with open(tmp_path / "serve.log", "wb") as log:
        process = subprocess.Popen(
            [COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=cli_env(env), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        up = eventually(lambda: _live(url), timeout=30)
        assert up, (tmp_path / "serve.log").read_text()[-2000:]
        yield url, process, stripe
        process.terminate()
        process.wait(timeout=30)
    stripe.stop()


def _live(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/live", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_worker_killed_under_load_loses_no_acknowledged_charge_and_charges_none_twice(
    serving_two_workers: tuple[str, subprocess.Popen[bytes], FakeStripe],
    postgres_url: str,
    tmp_path: Path,
) -> None:
    url, master, stripe = serving_two_workers
    run = uuid.uuid4().hex[:8]  # Redis outlives the database: keys of this run only
    assert eventually(lambda: len(worker_pids(master)) == 2, timeout=30)
    acknowledged: dict[UUID, str] = {}
    unanswered: list[tuple[str, str]] = []
    lock = threading.Lock()
    kill_after = threading.Event()

    def client(n: int) -> None:
        user = f"load-user-{run}-{n}"
        # a new connection per request: the workers share the load, so both have charges in
        # flight when one is killed (a kept-alive connection stays with the worker it met)
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=url, timeout=30, limits=fresh) as http:
            for i in range(CHARGES_PER_CLIENT):
                key = f"order-{n}-{i}"
                try:
                    answer = http.post(
                        "/api/payments/process",
                        json=VISA,
                        headers={**bearer(user), "Idempotency-Key": key},
                    )
                except httpx.TransportError:  # the worker died under this request
                    with lock:
                        unanswered.append((user, key))
                    continue
                if answer.status_code == 201:
                    with lock:
                        acknowledged[UUID(answer.json()["paymentId"])] = answer.json()["status"]
                        if len(acknowledged) >= CLIENTS:
                            kill_after.set()
                else:
                    with lock:
                        unanswered.append((user, key))

    with ThreadPoolExecutor(CLIENTS) as pool:
        for n in range(CLIENTS):
            pool.submit(client, n)
        assert kill_after.wait(timeout=60), "the load did not get going"
        victim = worker_pids(master)[0]
        os.kill(victim, signal.SIGKILL)

    assert unanswered, "the kill cut requests in flight"
    store = EventSourcedPaymentStore.from_env(persistence_env(postgres_url, tmp_path / "x.db"))
    try:
        for payment_id, status in acknowledged.items():
            payment = store.find(payment_id)
            assert payment is not None and payment.status.value == status == "succeeded"

        # a client that got no answer retries with the same key, as the contract says
        assert eventually(lambda: len(worker_pids(master)) >= 1, timeout=30)
        for user, key in unanswered:
            answer = _retry_until_answered(url, user, key)
            assert answer.status_code == 201, answer.text
            assert answer.json()["paymentId"] == str(payment_id_for(user, key))
            payment = store.find(payment_id_for(user, key))
            assert payment is not None and payment.status is PaymentStatus.SUCCEEDED
    finally:
        store.close()

    def listed(user: str) -> set[str]:
        answer = httpx.get(f"{url}/api/payments/history?limit=100", headers=bearer(user))
        return {row["id"] for row in answer.json()["payments"]}

    everyone = {f"load-user-{run}-{n}" for n in range(CLIENTS)}
    charged = {str(p) for p in acknowledged} | {str(payment_id_for(u, k)) for u, k in unanswered}
    assert eventually(lambda: set().union(*map(listed, everyone)) == charged, timeout=10)

    per_payment = Counter(intent["metadata"]["payment_id"] for intent in stripe.intents.values())
    assert per_payment and max(per_payment.values()) == 1, "no payment was charged twice"
    assert len(per_payment) == CLIENTS * CHARGES_PER_CLIENT


def _retry_until_answered(url: str, user: str, key: str) -> httpx.Response:
    headers = {**bearer(user), "Idempotency-Key": key}
    deadline = time.monotonic() + 90  # the dead worker's key lock expires within 60 s
    while True:
        try:
            answer = httpx.post(
                f"{url}/api/payments/process", json=VISA, headers=headers, timeout=30
            )
        except httpx.TransportError:
            answer = None
        if answer is not None and answer.status_code not in (409, 503):
            return answer
        assert time.monotonic() < deadline, "the retry never got an answer"
        time.sleep(0.5)

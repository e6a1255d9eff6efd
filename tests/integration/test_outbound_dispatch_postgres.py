"""On PostgreSQL, dispatchers in two processes share the outbox: never one event twice at once."""

import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.cli_process import start_cli
from tests.conftest import bearer, eventually
from tests.outbound_receiver import EVENTS_SECRET, receiving

PAYMENTS = 8
WORKERS_PER_PROCESS = 4


def test_two_dispatching_processes_never_send_one_event_at_the_same_time(
    base_env: dict[str, str],
    postgres_url: str,
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
) -> None:
    admin = bearer("ops-1", "admin")
    # each request is held until both processes' dispatchers are all sending (or 8 s pass)
    with receiving(gather=2 * WORKERS_PER_PROCESS, hold=8.0) as receiver:
        env = {
            **base_env,
            "PAYMENTS_DATABASE_URL": postgres_url,
            "PAYMENTS_EVENTS_WEBHOOK_URLS": receiver.url,
            "PAYMENTS_EVENTS_SIGNING_SECRET": EVENTS_SECRET,
        }
        paid: list[str] = []
        with TestClient(create_app(make_container(env), run_projections=False)) as client:
            for n in range(PAYMENTS):
                body: dict[str, Any] = {"amount": 2000, "currency": "usd"}
                body["paymentMethodId"] = "pm_card_visa"
                made = client.post(
                    "/api/payments/process",
                    json=body,
                    headers={**bearer("buyer"), "Idempotency-Key": f"k-{n}"},
                )
                paid.append(made.json()["paymentId"])
                refund = {"paymentId": paid[-1]}
                assert client.post("/api/payments/refund", json=refund, headers=admin).is_success

        workers = [start_cli(env, "project", cwd=tmp_path) for _ in range(2)]
        try:
            done = eventually(lambda: len(receiver.acknowledged()) >= 2 * PAYMENTS, timeout=60)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
                worker.wait(30)
        assert done, f"{len(receiver.acknowledged())} of {2 * PAYMENTS} arrived"

        calls = receiver.calls
        assert len(calls) == 2 * PAYMENTS  # no event was sent twice
        assert set(Counter(c.event_id for c in calls).values()) == {1}
        assert receiver.most_at_once_per_payment == 1  # a payment's next event waits
        assert receiver.most_at_once > WORKERS_PER_PROCESS  # both processes were sending
        for payment_id in paid:
            types = [e["type"] for e in receiver.events_of(payment_id)]
            assert types == ["payment.succeeded", "payment.refunded"]

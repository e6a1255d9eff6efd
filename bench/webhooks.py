"""Webhook throughput and latency on the embedded default: `python -m bench.webhooks [N]`.

Posts N signed payment_intent.succeeded events (each twice) to the app in-process and prints
deliveries per second and latency percentiles for first deliveries and redeliveries.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from application.process_payment import ProcessPayment, process_payment
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

SECRET = "whsec_bench_0123456789"


def signed(evt: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(evt).encode()
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Stripe-Signature": f"t={t},v1={mac}"}
    return {"content": body, "headers": headers}


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1] * 1000


def main(count: int) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env(
            {"PAYMENTS_DATA_DIR": str(Path(data_dir)), "STRIPE_WEBHOOK_SECRET": SECRET}
        )
        container = build_container(settings)
        store, gateway = container.payment_store(), container.gateway()
        events = []
        for n in range(count):
            made = asyncio.run(
                process_payment(
                    ProcessPayment(
                        user_id="bench", amount=1000, currency="usd",
                        payment_method_id="pm_card_authenticationRequired", idempotency_key=f"b{n}",
                    ),
                    store=store,
                    gateway=gateway,
                    wallets=container.wallets(),
                )
            )  # fmt: skip
            intent = {"id": made.intent_id, "object": "payment_intent", "status": "succeeded"}
            events.append(
                {"id": f"evt_{uuid.uuid4().hex}", "type": "payment_intent.succeeded",
                 "created": int(time.time()), "data": {"object": intent}}
            )  # fmt: skip
        with TestClient(create_app(container, run_projections=False)) as client:
            for label in ("first delivery", "redelivery"):
                took = []
                started = time.perf_counter()
                for evt in events:
                    t0 = time.perf_counter()
                    assert client.post("/api/webhooks/stripe", **signed(evt)).status_code == 200
                    took.append(time.perf_counter() - t0)
                rate = count / (time.perf_counter() - started)
                print(
                    f"{label}: {count} events, {rate:.0f}/s, p50 {percentile(took, 50):.1f} ms, "
                    f"p95 {percentile(took, 95):.1f} ms, p99 {percentile(took, 99):.1f} ms"
                )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)

"""Time per request through the whole HTTP stack (auth, rate limit, logs, metrics, headers).

Run: .venv/bin/python -m bench.http_overhead [requests]
Prints the median and p95 of GET /health/live, GET /api/payments/history and
POST /api/payments/process on the embedded default, in process (no socket).
"""

import io
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from litestar.testing import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.settings import Settings

SECRET = "bench-secret-that-is-long-enough-0123456789"


def timed(call: Callable[[], Any], count: int) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main(count: int) -> None:
    configure_logging(io.StringIO())  # the JSON lines are formatted, then dropped
    env = {"PAYMENTS_DATA_DIR": tempfile.mkdtemp(), "PAYMENTS_JWT_SECRET": SECRET,
           "PAYMENTS_RATE_LIMIT_PER_MINUTE": str(count * 10)}  # fmt: skip
    app = create_app(build_container(Settings.from_env(env)))
    now = int(time.time())
    token = jwt.encode({"sub": "bench", "iat": now, "exp": now + 3600}, SECRET, "HS256")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        calls: dict[str, Callable[[], Any]] = {
            "GET /health/live": lambda: client.get("/health/live"),
            "GET /api/payments/history": lambda: client.get(
                "/api/payments/history", headers=headers
            ),
            "POST /api/payments/process": lambda: client.post(
                "/api/payments/process",
                json={"amount": 1000, "currency": "usd", "paymentMethodId": "pm_card_visa"},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            ),
        }
        for name, call in calls.items():
            assert call().status_code < 300, f"{name} must succeed to be timed"
            median, p95 = timed(call, count)
            print(f"{name:30} median {median:6.2f} ms   p95 {p95:6.2f} ms   ({count} requests)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)

"""Latency of a fresh charge, a replay from the idempotency store, and a replay from the events.

Usage: .venv/bin/python -m bench.idempotency [N]
Uses PAYMENTS_DATABASE_URL / PAYMENTS_REDIS_URL when set (else SQLite and the in-process
store) and the simulated gateway; Redis keys go under a unique prefix, deleted at the end.
"""

import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial

import jwt
import redis
from dependency_injector import providers
from litestar.testing import TestClient

from adapters.idempotency_memory import InProcessIdempotencyStore
from adapters.idempotency_redis import RedisIdempotencyStore
from application.ports import IdempotencyStore
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

BODY = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa"}


def timed(call: Callable[[], int], expected: int) -> float:
    started = time.perf_counter()
    status = call()
    elapsed = (time.perf_counter() - started) * 1000
    assert status == expected, status
    return elapsed


def main(n: int) -> None:
    env = {
        **os.environ,
        "PAYMENTS_DATA_DIR": tempfile.mkdtemp(),
        "PAYMENTS_RATE_LIMIT_PER_MINUTE": "0",
    }
    settings = Settings.from_env(env)
    container = build_container(settings)
    logging.disable(logging.WARNING)  # with Redis down, every request logs that it fell back
    prefix = f"bench:{uuid.uuid4().hex}:"
    store: IdempotencyStore
    if settings.redis_url:
        store = RedisIdempotencyStore.from_url(settings.redis_url, prefix=prefix)
    else:
        store = InProcessIdempotencyStore()
    container.idempotency_store.override(providers.Object(store))
    token = build_token(settings)
    with TestClient(create_app(container, run_projections=False)) as client:

        def post(key: str) -> int:
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
            return client.post("/api/payments/process", json=BODY, headers=headers).status_code

        keys = [f"bench-{uuid.uuid4().hex}" for _ in range(n)]
        fresh = [timed(partial(post, k), 201) for k in keys]
        replay = [timed(partial(post, k), 201) for k in keys]
        container.idempotency_store.override(providers.Object(InProcessIdempotencyStore()))
        container.idempotency.reset()
        durable = [timed(partial(post, k), 201) for k in keys]
    if isinstance(store, RedisIdempotencyStore):
        with contextlib.suppress(redis.RedisError):
            store._client.delete(*store._client.scan_iter(match=f"{prefix}*", count=1000))
    where = f"{'PostgreSQL' if settings.database_url else 'SQLite'}, {type(store).__name__}"
    print(f"{n} requests each ({where}); median / p95 ms")
    for name, sample in (("fresh charge", fresh), ("replay from the store", replay),
                         ("replay from the events", durable)):  # fmt: skip
        p95 = statistics.quantiles(sample, n=20)[-1]
        print(f"  {name:24} {statistics.median(sample):7.2f} {p95:7.2f}")


def build_token(settings: Settings) -> str:
    now = int(time.time())
    claims = {"sub": "bench-user", "roles": [], "iat": now, "exp": now + 3600}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

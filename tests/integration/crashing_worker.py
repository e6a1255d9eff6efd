"""A worker that saves `Initiated` and is killed before the gateway hears of the charge.

Usage: python -m tests.integration.crashing_worker PREFIX LOCK_TTL TOKEN KEY BODY_JSON
(configuration from the environment, as the service reads it).
"""

import json
import os
import signal
import sys

from dependency_injector import providers
from litestar.testing import TestClient

from adapters.idempotency_redis import RedisIdempotencyStore
from adapters.simulated_gateway import SimulatedGateway
from application.idempotency import IdempotentRequests
from application.ports import ChargeOutcome, ChargeRequest
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings


class KilledBeforeCharging(SimulatedGateway):
    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


def main() -> None:
    prefix, lock_ttl, token, key, body = sys.argv[1:]
    settings = Settings.from_env()
    assert settings.redis_url
    container = build_container(settings)
    container.gateway.override(providers.Object(KilledBeforeCharging()))
    store = RedisIdempotencyStore.from_url(settings.redis_url, prefix=prefix)
    requests = IdempotentRequests(store, lock_ttl=float(lock_ttl))
    container.idempotency.override(providers.Object(requests))
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    with TestClient(create_app(container, run_projections=False)) as client:
        client.post("/api/payments/process", json=json.loads(body), headers=headers)
    sys.exit("the worker should have been killed inside the gateway call")


if __name__ == "__main__":
    main()

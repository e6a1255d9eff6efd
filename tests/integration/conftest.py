"""Fixtures for integration tests that serve the app over HTTP on PostgreSQL and Redis."""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
from dependency_injector import providers
from eventsourcing.utils import get_topic

from adapters.idempotency_redis import RedisIdempotencyStore
from domain.payment import Payment
from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.fakes import CountingGateway
from tests.live_server import serving
from tests.redis_keys import unique_prefix


@dataclass
class Service:
    url: str
    container: Container
    gateway: CountingGateway
    redis_url: str
    prefix: str

    def payments(self) -> set[UUID]:
        recorder = self.container.payment_store().app.recorder
        created = [get_topic(Payment.Initiated)]
        notifications = recorder.select_notifications(start=1, limit=10_000, topics=created)
        return {n.originator_id for n in notifications}


@pytest.fixture
def start_service(
    base_env: dict[str, str],
    postgres_url: str,
    redis_server_url: str,
    make_container: Callable[[dict[str, str]], Container],
) -> Iterator[Callable[..., Service]]:
    """Start the app on PostgreSQL and Redis (or a given Redis URL), with a counting gateway."""
    with ExitStack() as stack:
        prefix = stack.enter_context(unique_prefix(redis_server_url))

        def start(redis_url: str = redis_server_url, delay: float = 0.3) -> Service:
            env = {
                **base_env,
                "PAYMENTS_DATABASE_URL": postgres_url,
                "PAYMENTS_REDIS_URL": redis_url,
            }
            container = make_container(env)
            gateway = CountingGateway(delay=delay)
            container.gateway.override(providers.Object(gateway))
            probe = container.redis_probe()
            breaker = probe.breaker if probe is not None else None
            store = RedisIdempotencyStore.from_url(redis_url, prefix=prefix, breaker=breaker)
            container.idempotency_store.override(providers.Object(store))
            url = stack.enter_context(serving(create_app(container, run_projections=False)))
            return Service(url, container, gateway, redis_server_url, prefix)

        yield start


Request = tuple[dict[str, Any], dict[str, str]]


def fire(
    url: str, path: str, body: dict[str, Any], headers: dict[str, str], n: int
) -> list[httpx.Response]:
    """Send n identical requests at once."""
    return fire_all(url, path, [(body, headers)] * n)


def fire_all(url: str, path: str, requests: list[Request]) -> list[httpx.Response]:
    """Send the requests at once: a barrier releases them together."""
    barrier = threading.Barrier(len(requests))
    limits = httpx.Limits(max_connections=len(requests))
    with httpx.Client(base_url=url, timeout=60, limits=limits) as client:

        def send(request: Request) -> httpx.Response:
            barrier.wait()
            return client.post(path, json=request[0], headers=request[1])

        with ThreadPoolExecutor(len(requests)) as pool:
            return list(pool.map(send, requests))

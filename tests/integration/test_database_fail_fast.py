"""PostgreSQL unreachable: a request fails within 3 s with DB_ERROR; readiness names it."""

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import bearer
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration
VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa"}
BOUND = 3.0


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = urlparse(postgres_url)
    server = TcpProxy(url.hostname or "127.0.0.1", url.port or 5432)
    yield server
    server.close()


@pytest.fixture
def served(
    base_env: dict[str, str],
    postgres_url: str,
    proxy: TcpProxy,
    make_container: Callable[[dict[str, str]], Container],
) -> Iterator[TestClient[Any]]:
    through_proxy = urlparse(postgres_url)._replace(netloc=f"postgres@127.0.0.1:{proxy.port}")
    env = {**base_env, "PAYMENTS_DATABASE_URL": through_proxy.geturl()}
    with TestClient(create_app(make_container(env), run_projections=False)) as client:
        yield client


def timed_charge(client: TestClient[Any], user_id: str, key: str) -> tuple[Any, float]:
    started = time.monotonic()
    answer = client.post(
        "/api/payments/process", json=VISA, headers={**bearer(user_id), "Idempotency-Key": key}
    )
    return answer, time.monotonic() - started


@pytest.mark.parametrize("outage", ["refuse", "silence"])
def test_with_postgresql_unreachable_a_charge_fails_within_3_s_with_db_error(
    served: TestClient[Any], proxy: TcpProxy, user_id: str, outage: str
) -> None:
    answer, _ = timed_charge(served, user_id, "before")
    assert answer.status_code == 201, answer.text

    getattr(proxy, outage)()
    for n in range(3):  # the first finds the outage, the next know of it
        answer, took = timed_charge(served, user_id, f"during-{n}")
        assert answer.status_code == 500, answer.text
        assert answer.json()["error"]["code"] == "DB_ERROR"
        assert took < BOUND, f"answered after {took:.1f} s"

    ready = served.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["components"]["eventStore"]["status"] == "down"

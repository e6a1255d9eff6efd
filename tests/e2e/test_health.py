"""Readiness tells a load balancer whether to send traffic, and an operator what is wrong."""

import socket
from collections.abc import Callable
from typing import Any

import psycopg
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import bearer

VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa"}


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_ready_reports_each_component(
    base_env: dict[str, str],
    postgres_url: str,
    redis_server_url: str,
    make_container: Callable[[dict[str, str]], Container],
) -> None:
    env = {
        **base_env,
        "PAYMENTS_DATABASE_URL": postgres_url,
        "PAYMENTS_REDIS_URL": redis_server_url,
    }
    with TestClient(create_app(make_container(env))) as client:
        assert client.get("/health/live").json() == {"status": "ok"}
        ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "components": {
            "eventStore": {"status": "ok"},
            "history": {"status": "ok", "lag": 0},
            "schema": {"status": "ok"},
            "redis": {"status": "ok"},
        },
    }


def test_redis_down_is_degraded_and_payments_go_on(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container], user_id: str
) -> None:
    env = {
        **base_env,
        "PAYMENTS_REDIS_URL": closed_port_url(),
        "PAYMENTS_RATE_LIMIT_PER_MINUTE": "5",
    }
    with TestClient(create_app(make_container(env))) as client:
        ready = client.get("/health/ready")
        charged = client.post("/api/payments/process", json=VISA, headers=bearer(user_id))
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["components"]["redis"] == {"status": "degraded", "error": "ConnectionError"}
    assert ready.json()["components"]["eventStore"] == {"status": "ok"}
    assert charged.status_code == 201, charged.text


def test_postgres_down_fails_readiness(
    base_env: dict[str, str],
    postgres_server_url: str,
    postgres_url: str,
    make_container: Callable[[dict[str, str]], Container],
) -> None:
    env = {**base_env, "PAYMENTS_DATABASE_URL": postgres_url}
    with TestClient(create_app(make_container(env), run_projections=False)) as client:
        assert client.get("/health/ready").status_code == 200
        name = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # this test's own database
        ready = client.get("/health/ready")
        body: Any = ready.json()
    assert ready.status_code == 503
    assert body["status"] == "down"
    assert body["components"]["eventStore"]["status"] == "down"
    assert "postgres" not in ready.text.lower() or "password" not in ready.text.lower()

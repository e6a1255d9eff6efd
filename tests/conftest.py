"""Shared fixtures: servers from TEST_* variables or testcontainers; never skipped in CI."""

import io
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jwt
import psycopg
import pytest
import structlog
from litestar.testing import TestClient

from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.schema import migrate_schema
from entrypoints.settings import Settings
from tests.fake_stripe import FakeStripe
from tests.localstripe_server import LocalStripe

ROOT = Path(__file__).resolve().parents[1]
JWT_SECRET = "test-jwt-secret-that-is-long-enough-0123456789"
WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The service's JSON log lines, written to a buffer for the test to read."""
    buffer = io.StringIO()
    configure_logging(buffer)
    yield buffer
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "payments-json"]:
        root.removeHandler(handler)
    structlog.contextvars.clear_contextvars()


def unavailable(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI and did not answer")
    pytest.skip(f"{what} not available: set TEST_DATABASE_URL / TEST_REDIS_URL or run Docker")


def with_database(url: str, name: str) -> str:
    return urlparse(url)._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    try:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
    except Exception:
        unavailable("PostgreSQL")


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> Iterator[str]:
    """A migrated database that each test clones; dropped at the end of the session."""
    name = f"payments_tpl_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(postgres_server_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        unavailable("PostgreSQL")
    admin.execute(f'CREATE DATABASE "{name}"')
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            "PAYMENTS_DATABASE_URL": with_database(postgres_server_url, name),
            "PAYMENTS_DATA_DIR": data_dir,
            "PAYMENTS_JWT_SECRET": JWT_SECRET,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        migrate_schema(Settings.from_env(env))
    yield name
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def postgres_url(postgres_server_url: str, postgres_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"payments_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield with_database(postgres_server_url, name)
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    try:
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
    except Exception:
        unavailable("Redis")


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """localstripe (PyPI) on 127.0.0.1, a free port, for the whole session."""
    server = LocalStripe().start()
    yield server.url
    server.stop()


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """A loopback server answering Stripe's documented JSON, for what localstripe lacks."""
    server = FakeStripe().start()
    yield server
    server.stop()


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PAYMENTS_DATA_DIR": str(tmp_path / "var"),
        "PAYMENTS_JWT_SECRET": JWT_SECRET,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PAYMENTS_RATE_LIMIT_PER_MINUTE": "0",
        "PAYMENTS_WEBHOOK_RATE_LIMIT_PER_MINUTE": "0",
        "PAYMENTS_AUTH_FAILURES_PER_MINUTE": "0",
    }


@pytest.fixture(params=["sqlite", "postgres"])
def backend_env(request: pytest.FixtureRequest, base_env: dict[str, str]) -> dict[str, str]:
    """The embedded default, then PostgreSQL: e2e flows run on both."""
    if request.param == "postgres":
        return {**base_env, "PAYMENTS_DATABASE_URL": request.getfixturevalue("postgres_url")}
    return base_env


@pytest.fixture
def make_container() -> Iterator[Callable[[dict[str, str]], Container]]:
    made: list[Container] = []

    def make(env: dict[str, str]) -> Container:
        container = build_container(Settings.from_env(env))
        made.append(container)
        return container

    yield make
    for container in made:
        for runner in container.runners().values():
            runner.stop()


@pytest.fixture
def container(backend_env: dict[str, str], make_container: Callable[..., Container]) -> Container:
    return make_container(backend_env)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(container)) as test_client:
        yield test_client


def make_token(user_id: str, *roles: str, secret: str = JWT_SECRET, ttl: int = 600) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "roles": list(roles), "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(user_id: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user_id, *roles)}"}


@pytest.fixture
def user_id() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


def eventually(check: Callable[[], Any], timeout: float = 3.0) -> Any:
    """Poll `check` until it returns something truthy; read models follow within a second."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.02)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: a server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

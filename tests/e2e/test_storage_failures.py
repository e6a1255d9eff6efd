"""A storage failure is `500 DB_ERROR` with a message a customer can read; the log has the cause."""

import logging
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.conftest import bearer

VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa"}
MAX_POOLED_CONNECTIONS = 20  # the history view's pool: 10 plus 10 overflow
DB_ERROR = {
    "success": False,
    "error": {"code": "DB_ERROR", "message": "the payment database is unavailable; retry later"},
}


@pytest.fixture
def served(
    backend_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(make_container(backend_env), run_projections=False)) as client:
        yield client


EVENT_LOG = "event log"


def drop_table(env: dict[str, str], table: str) -> None:
    settings = Settings.from_env(env)
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {'payments_events' if table == EVENT_LOG else table}")
        return
    if table == EVENT_LOG:
        file, table = settings.events_file, "stored_events"
    else:
        file = settings.views_file
    with sqlite3.connect(file) as conn:
        conn.execute(f"DROP TABLE {table}")


def test_history_without_its_table_is_a_db_error_logged_with_its_cause(
    served: TestClient[Any],
    backend_env: dict[str, str],
    user_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert served.get("/api/payments/history", headers=bearer(user_id)).status_code == 200
    drop_table(backend_env, "payment_counts")

    with caplog.at_level(logging.ERROR, logger="entrypoints.http.errors"):
        history = served.get("/api/payments/history", headers=bearer(user_id))

    assert history.status_code == 500
    assert history.json() == DB_ERROR
    assert "payment_counts" not in history.text
    assert "GET /api/payments/history -> DB_ERROR" in caplog.text
    assert "payment_counts" in caplog.text  # the database's own words, for the operator


def test_a_charge_without_the_event_log_is_a_db_error(
    served: TestClient[Any], backend_env: dict[str, str], user_id: str
) -> None:
    first = served.post("/api/payments/process", json=VISA, headers=bearer(user_id))
    assert first.status_code == 201
    drop_table(backend_env, EVENT_LOG)

    charged = served.post(
        "/api/payments/process", json={**VISA, "amount": 3000}, headers=bearer(user_id)
    )

    assert charged.status_code == 500
    assert charged.json()["error"]["code"] == "DB_ERROR"
    assert "events" not in charged.text


def test_payment_methods_without_the_event_log_are_a_db_error(
    served: TestClient[Any], backend_env: dict[str, str], user_id: str
) -> None:
    assert served.get("/api/payment-methods", headers=bearer(user_id)).status_code == 200
    drop_table(backend_env, EVENT_LOG)

    listed = served.get("/api/payment-methods", headers=bearer(user_id))

    assert listed.status_code == 500
    assert listed.json()["error"]["code"] == "DB_ERROR"


def test_lost_connections_are_db_errors_until_the_pool_has_reconnected(
    base_env: dict[str, str],
    postgres_url: str,
    make_container: Callable[[dict[str, str]], Container],
    user_id: str,
) -> None:
    env = {**base_env, "PAYMENTS_DATABASE_URL": postgres_url}
    with TestClient(create_app(make_container(env), run_projections=False)) as client:
        assert client.get("/api/payments/history", headers=bearer(user_id)).status_code == 200
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        answers = [client.get("/api/payments/history", headers=bearer(user_id))]
        while answers[-1].status_code != 200 and len(answers) < MAX_POOLED_CONNECTIONS + 2:
            answers.append(client.get("/api/payments/history", headers=bearer(user_id)))

    # each pooled connection that died fails one request, then is replaced
    lost, recovered = answers[:-1], answers[-1]
    assert lost, "a request on a terminated connection cannot succeed"
    assert all(a.status_code == 500 and a.json() == DB_ERROR for a in lost)
    assert recovered.status_code == 200

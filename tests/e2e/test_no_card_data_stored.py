"""After a full flow, no table of either database and no log line holds a test card number."""

import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar.testing import TestClient

from entrypoints.container import Container
from tests.conftest import bearer

Client = TestClient[Any]
METHODS, PROCESS, REFUND = "/api/payment-methods", "/api/payments/process", "/api/payments/refund"
TEST_CARD_NUMBERS = ["4242424242424242", "4000000000000002", "5555555555554444", "378282246310005"]


FORMAT = logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_text)s")


def is_test_client(text: str) -> bool:
    """The test client's own request lines (httpx) show the URLs this test sent."""
    return text.startswith("httpx") or "HTTP Request:" in text


@pytest.fixture(params=["sqlite", "postgres", "localstripe"])
def backend_env(request: pytest.FixtureRequest, base_env: dict[str, str]) -> dict[str, str]:
    """The embedded default, PostgreSQL, and the embedded default talking to localstripe."""
    if request.param == "postgres":
        return {**base_env, "PAYMENTS_DATABASE_URL": request.getfixturevalue("postgres_url")}
    if request.param == "localstripe":
        return {
            **base_env,
            "STRIPE_SECRET_KEY": "sk_test_localstripe_0123456789",
            "STRIPE_API_BASE": request.getfixturevalue("localstripe_url"),
            "STRIPE_MAX_NETWORK_RETRIES": "0",
        }
    return base_env


def as_written(number: str) -> re.Pattern[str]:
    """The number with or without the spaces or dashes people type between digits."""
    return re.compile(r"[ -]?".join(number))


def text_of(value: object) -> str:
    return value.decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)


def sqlite_rows(data_dir: Path) -> Iterator[tuple[str, str]]:
    for path in data_dir.glob("*.db"):
        with sqlite3.connect(path) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                for row in db.execute(f'SELECT * FROM "{table}"'):
                    yield f"{path.name}:{table}", " ".join(text_of(v) for v in row)


def postgres_rows(url: str) -> Iterator[tuple[str, str]]:
    with psycopg.connect(url) as db:
        tables = db.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            for row in db.execute(f'SELECT * FROM "{schema}"."{table}"'):
                yield (
                    f"{schema}.{table}",
                    " ".join(text_of(bytes(v) if isinstance(v, memoryview) else v) for v in row),
                )


def every_row(container: Container) -> list[tuple[str, str]]:
    settings = container.settings()
    if settings.database_url:
        return list(postgres_rows(settings.database_url))
    return list(sqlite_rows(settings.data_dir))


def full_flow_with_card_numbers_sent_everywhere(client: Client, user_id: str) -> None:
    me = bearer(user_id)
    visa = client.post("/api/payment-methods", json={"paymentMethodId": "pm_card_visa"}, headers=me)
    assert visa.status_code == 201
    client.post(
        "/api/payment-methods", json={"paymentMethodId": "pm_card_chargeDeclined"}, headers=me
    )
    paid = client.post(
        "/api/payments/process",
        json={"amount": 4200, "currency": "usd", "courseId": "c-1", "metadata": {"note": "ok"}},
        headers=me,
    )
    assert paid.status_code == 201
    refund = {"paymentId": paid.json()["paymentId"], "amount": 200, "reason": "partial"}
    assert (
        client.post("/api/payments/refund", json=refund, headers=bearer("ops", "admin")).status_code
        == 200
    )
    admin = bearer("ops", "admin")
    charge = {"amount": 4200, "currency": "usd"}
    for number in TEST_CARD_NUMBERS:
        spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        attempts: list[tuple[str, dict[str, Any], dict[str, str]]] = [
            (METHODS, {"paymentMethodId": f"pm_{number}"}, me),
            (METHODS, {"paymentMethodId": "pm_card_visa", "card": {"number": number}}, me),
            (METHODS, {"paymentMethodId": "pm_card_visa", "cvc": "123"}, me),
            (PROCESS, {**charge, "metadata": {"card": spaced}}, me),
            (PROCESS, {**charge, "courseId": number}, me),
            (PROCESS, {**charge, "paymentMethodId": f"pm_{number}"}, me),
            (PROCESS, charge, {**me, "Idempotency-Key": number}),
            (REFUND, {"paymentId": paid.json()["paymentId"], "reason": spaced}, admin),
        ]
        for route, body, headers in attempts:
            refused = client.post(route, json=body, headers=headers)
            assert refused.status_code == 400, (route, refused.text)
        assert client.delete(f"{METHODS}/{number}", headers=me).status_code == 404
    assert client.delete(f"/api/payment-methods/{visa.json()['id']}", headers=me).status_code == 204


def test_no_table_and_no_log_line_holds_a_card_number(
    client: Client,
    container: Container,
    user_id: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("DEBUG")
    full_flow_with_card_numbers_sent_everywhere(client, user_id)
    rows = every_row(container)
    out, err = capfd.readouterr()
    logs = "\n".join(
        [FORMAT.format(r) for r in caplog.records if not is_test_client(r.name)]
        + [line for line in (out + err).splitlines() if not is_test_client(line)]
    )

    assert any(user_id in text for _, text in rows), "the search must read what was stored"
    assert any("PaymentMethodAttached" in text for _, text in rows)
    assert f"saved in the wallet of {user_id}" in logs, "the search must read what was logged"
    if container.settings().stripe_secret_key:
        assert "/attach" in logs, "with Stripe, its requests and answers are searched too"
    for number in TEST_CARD_NUMBERS:
        pattern = as_written(number)
        assert [where for where, text in rows if pattern.search(text)] == []
        found = pattern.search(logs)
        assert found is None, logs[max(found.start() - 400, 0) : found.end() + 100]

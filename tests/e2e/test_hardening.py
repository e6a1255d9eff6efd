"""HTTP hardening: headers, CORS, body limits, content types, pinned JWT algorithm and leeway."""

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.http.auth import CLOCK_SKEW_SECONDS
from tests.conftest import JWT_SECRET, bearer

Client = TestClient[Any]
VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa"}
ORIGIN = "https://courses.example.com"


def test_every_response_carries_security_headers(client: Client, user_id: str) -> None:
    for response in [
        client.get("/api/payments/history", headers=bearer(user_id)),
        client.get("/api/payments/history"),  # 401 from authentication
        client.get("/no/such/route"),  # 404 from routing
        client.get("/health/ready"),
    ]:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert (
            response.headers["Content-Security-Policy"]
            == "default-src 'none'; frame-ancestors 'none'"
        )
        assert response.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" in response.headers
        assert response.headers["X-Request-ID"]


def test_cors_is_off_unless_origins_are_configured(
    client: Client, base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    off = client.options("/api/payments/process", headers=preflight)
    assert "Access-Control-Allow-Origin" not in off.headers
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/health/live", headers={"Origin": ORIGIN}).headers
    )

    env = {**base_env, "PAYMENTS_CORS_ORIGINS": ORIGIN}
    with TestClient(create_app(make_container(env))) as configured:
        allowed = configured.options("/api/payments/process", headers=preflight)
        other = configured.options(
            "/api/payments/process", headers={**preflight, "Origin": "https://evil.example"}
        )
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Origin" not in other.headers


def test_a_body_over_64_kib_is_refused_and_nothing_is_stored(client: Client, user_id: str) -> None:
    big = {**VISA, "metadata": {f"k{i}": "v" * 500 for i in range(50)}, "courseId": "c" * 200}
    padding = b" " * (64 * 1024)
    body = (str(big).replace("'", '"')).encode() + padding
    response = client.post(
        "/api/payments/process",
        content=body,
        headers={**bearer(user_id), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert client.get("/api/payments/history", headers=bearer(user_id)).json()["total"] == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_only_json_bodies_are_accepted(client: Client, user_id: str, content_type: str) -> None:
    headers = {**bearer(user_id), "Content-Type": content_type}
    response = client.post("/api/payments/process", content=b'{"amount": 2500}', headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def token(**claims: Any) -> dict[str, str]:
    return {
        "Authorization": "Bearer " + jwt.encode({"sub": "skewed", **claims}, JWT_SECRET, "HS256")
    }


def test_clock_skew_is_tolerated_up_to_a_few_seconds_and_no_more(client: Client) -> None:
    now = int(time.time())
    assert CLOCK_SKEW_SECONDS == 5
    just_expired = token(exp=now - 2, iat=now - 600)
    issued_ahead = token(exp=now + 600, iat=now + 3, nbf=now + 3)
    long_expired = token(exp=now - 30, iat=now - 600)
    far_ahead = token(exp=now + 600, iat=now, nbf=now + 60)
    assert client.get("/api/payments/history", headers=just_expired).status_code == 200
    assert client.get("/api/payments/history", headers=issued_ahead).status_code == 200
    assert client.get("/api/payments/history", headers=long_expired).status_code == 401
    assert client.get("/api/payments/history", headers=far_ahead).status_code == 401


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_only_hs256_tokens_are_accepted(client: Client) -> None:
    exp = int(time.time()) + 600
    for algorithm in ("HS384", "HS512"):
        forged = jwt.encode({"sub": "u", "exp": exp}, JWT_SECRET, algorithm)
        assert (
            client.get(
                "/api/payments/history", headers={"Authorization": f"Bearer {forged}"}
            ).status_code
            == 401
        )
    header_none = jwt.encode({"sub": "u", "exp": exp}, None, "none")  # type: ignore[arg-type]
    assert (
        client.get(
            "/api/payments/history", headers={"Authorization": f"Bearer {header_none}"}
        ).status_code
        == 401
    )


def test_an_empty_idempotency_key_is_named_as_the_client_sent_it(
    client: Client, user_id: str
) -> None:
    headers = {**bearer(user_id), "Idempotency-Key": ""}
    response = client.post("/api/payments/process", json=VISA, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("Idempotency-Key:")

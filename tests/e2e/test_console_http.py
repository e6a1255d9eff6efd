"""The console's HTTP rules, without a browser: cookies, headers, limits, expiry."""

import re
import time
from collections.abc import Callable
from typing import Any

from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import bearer, make_token

Client = TestClient[Any]


def csrf_of(page: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client: Client, token: str) -> Any:
    csrf = csrf_of(client.get("/console/login").text)
    return client.post(
        "/console/login", data={"token": token, "_csrf_token": csrf}, follow_redirects=False
    )


def test_the_session_cookie_is_strict_http_only_and_secure_over_https(
    container: Container,
) -> None:
    with TestClient(create_app(container), base_url="https://console.example") as client:
        signed_in = sign_in(client, make_token("ops-1", "admin"))
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console"
    cookie = next(c for c in signed_in.headers.get_list("set-cookie") if "payments_console=" in c)
    assert {"HttpOnly", "SameSite=strict", "Secure", "Path=/console"} <= {
        part.strip() for part in cookie.split(";")
    }
    assert "Max-Age=28800" in cookie  # at most 8 hours


def test_over_http_the_cookie_is_not_marked_secure(client: Client) -> None:
    signed_in = sign_in(client, make_token("ops-1", "admin"))
    cookie = next(c for c in signed_in.headers.get_list("set-cookie") if "payments_console=" in c)
    assert "secure" not in cookie.lower()


def test_the_session_ends_with_the_token(client: Client) -> None:
    sign_in(client, make_token("ops-1", "admin", ttl=1))
    assert client.get("/console", follow_redirects=False).status_code == 200
    time.sleep(2.2)
    gone = client.get("/console", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/console/login"


def test_a_token_from_another_issuer_is_refused(client: Client) -> None:
    refused = sign_in(client, make_token("ops-1", "admin", secret="x" * 40))
    assert refused.status_code == 403
    assert "not valid" in refused.text
    assert not [c for c in refused.headers.get_list("set-cookie") if "payments_console=" in c]


def test_console_pages_allow_no_inline_script(client: Client) -> None:
    policy = client.get("/console/login").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert "<script>" not in client.get("/console/login").text


def test_a_bad_search_is_a_message_and_the_api_needs_no_csrf_token(
    client: Client, user_id: str
) -> None:
    sign_in(client, make_token("ops-1", "admin"))
    page = client.get("/console", params={"q": "x", "from": "2026-02-01", "to": "2026-01-01"})
    assert page.status_code == 200
    assert re.search(r'data-testid="flash">[^<]*must not be before', page.text)
    charged = client.post(
        "/api/payments/process",
        json={"amount": 2000, "currency": "usd", "paymentMethodId": "pm_card_visa"},
        headers=bearer(user_id),
    )
    assert charged.status_code == 201, charged.text


def test_console_requests_are_rate_limited(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    container = make_container({**base_env, "PAYMENTS_RATE_LIMIT_PER_MINUTE": "3"})
    with TestClient(create_app(container, run_projections=False)) as client:
        answers = [client.get("/console/login").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_a_refund_the_contract_refuses_is_a_message_and_changes_nothing(
    client: Client, user_id: str
) -> None:
    charged = client.post(
        "/api/payments/process",
        json={"amount": 5000, "currency": "usd", "paymentMethodId": "pm_card_visa"},
        headers=bearer(user_id),
    ).json()
    sign_in(client, make_token("ops-1", "admin"))
    page = client.get(f"/console/payments/{charged['paymentId']}").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key
    shown = client.post(
        f"/console/payments/{charged['paymentId']}/refund",
        data={"amount": "50.01", "idempotency_key": key.group(1), "_csrf_token": csrf_of(page)},
    )
    assert re.search(r'data-testid="flash">VALIDATION_ERROR: [^<]*amount', shown.text)
    after = client.get(f"/api/payments/{charged['paymentId']}", headers=bearer(user_id)).json()
    assert after["refundedAmount"] == 0 and after["refunds"] == []


def test_an_unknown_payment_is_a_page_saying_so(client: Client) -> None:
    sign_in(client, make_token("ops-1", "admin"))
    for wrong in ("not-a-payment", "00000000-0000-0000-0000-000000000000"):
        answer = client.get(f"/console/payments/{wrong}")
        assert answer.status_code == 404 and "No such payment" in answer.text

"""Rate limits: a user (or a webhook sender) past the limit gets 429 RATE_LIMITED."""

import uuid
from collections.abc import Callable
from typing import Any

from litestar import Litestar, post
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.http.errors import handle_exception
from entrypoints.http.rate_limits import (
    STORE_NAME,
    rate_limit_store,
    rate_limits,
    read_webhook_body,
)
from tests.conftest import bearer
from tests.e2e.test_health import closed_port_url

Client = TestClient[Any]


def history(client: Client, user: str) -> Any:
    return client.get("/api/payments/history", headers=bearer(user))


def assert_limited(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {
        "success": False,
        "error": {
            "code": "RATE_LIMITED",
            "message": "too many requests; retry after the time given in Retry-After",
        },
    }
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_a_user_past_the_limit_is_told_when_to_retry_and_others_are_not_slowed(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container], user_id: str
) -> None:
    env = {**base_env, "PAYMENTS_RATE_LIMIT_PER_MINUTE": "3"}
    with TestClient(create_app(make_container(env))) as client:
        answers = [history(client, user_id) for _ in range(3)]
        limited = history(client, user_id)
        other = history(client, f"{user_id}-other")
        health = [client.get("/health/live").status_code for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    assert_limited(limited)
    assert other.status_code == 200
    assert health == [200] * 5


def test_the_limit_is_shared_through_redis_by_every_worker(
    base_env: dict[str, str],
    redis_server_url: str,
    make_container: Callable[[dict[str, str]], Container],
    user_id: str,
) -> None:
    env = {
        **base_env,
        "PAYMENTS_RATE_LIMIT_PER_MINUTE": "4",
        "PAYMENTS_REDIS_URL": redis_server_url,
    }
    with (
        TestClient(create_app(make_container(env))) as first,
        TestClient(create_app(make_container(env))) as second,
    ):
        answers = [history(client, user_id).status_code for client in (first, second) * 2]
        limited = history(second, user_id)
    assert answers == [200] * 4
    assert_limited(limited)


def test_limits_hold_per_process_while_redis_is_down(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container], user_id: str
) -> None:
    env = {
        **base_env,
        "PAYMENTS_RATE_LIMIT_PER_MINUTE": "2",
        "PAYMENTS_REDIS_URL": closed_port_url(),
    }
    with TestClient(create_app(make_container(env))) as client:
        answers = [history(client, user_id).status_code for _ in range(3)]
    assert answers == [200, 200, 429]


def test_zero_turns_the_user_limit_off(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container], user_id: str
) -> None:
    env = {**base_env, "PAYMENTS_RATE_LIMIT_PER_MINUTE": "0"}
    with TestClient(create_app(make_container(env))) as client:
        answers = {history(client, user_id).status_code for _ in range(30)}
    assert answers == {200}


@post("/api/webhooks/stripe", status_code=200)
async def webhook_stand_in() -> dict[str, bool]:
    return {"received": True}


def test_the_webhook_route_is_limited_per_client_address() -> None:
    app = Litestar(
        route_handlers=[webhook_stand_in],
        middleware=[read_webhook_body, *(limit.middleware for limit in rate_limits(0, 2))],
        stores={STORE_NAME: rate_limit_store(None)},
        exception_handlers={Exception: handle_exception},
    )
    with TestClient(app) as client:
        answers = [
            client.post("/api/webhooks/stripe", json={"id": str(uuid.uuid4())}) for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert_limited(answers[2])


def test_the_openapi_document_declares_429_with_retry_after(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    limited = paths["/api/payments/process"]["post"]["responses"]["429"]
    assert limited["headers"]["Retry-After"]["required"] is True
    assert limited["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")

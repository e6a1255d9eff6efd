"""Card numbers in disguise, CVC-like names and card numbers in headers are refused or replaced."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import bearer

Client = TestClient[Any]
PROCESS = "/api/payments/process"
VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa", "courseId": "c-1"}
DISGUISED = [
    "4111.1111.1111.1111",
    "4111\u200b1111\u200b1111\u200b1111",  # zero-width spaces
    "4111\u20601111\u20601111\u20601111",  # word joiners
    "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
    "4111\u20131111\u20131111\u20131111",  # en dashes
    "4111 - 1111 - 1111 - 1111",
    "4111\u00a01111\u00a01111\u00a01111",  # no-break spaces
]
CVC_NAMES = ["card_cvv", "cardSecurityCode", "security code", "CVV2", "card-cid", "CSC", "Cvc"]


@pytest.fixture
def app_client(
    backend_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> Any:
    container = make_container(backend_env)
    with TestClient(create_app(container)) as client:
        yield client, container


def assert_refused(answer: Any) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"


def stored_events(container: Container) -> str:
    return " ".join(repr(e) for e in container.audit_trail().all_events())


@pytest.mark.parametrize("number", DISGUISED)
def test_a_disguised_card_number_in_metadata_is_refused_and_not_stored(
    app_client: tuple[Client, Container], user_id: str, number: str
) -> None:
    client, container = app_client
    answer = client.post(
        PROCESS, json={**VISA, "metadata": {"note": f"card {number}"}}, headers=bearer(user_id)
    )
    assert_refused(answer)
    assert "1111" not in stored_events(container)


@pytest.mark.parametrize("name", CVC_NAMES)
def test_a_cvc_like_metadata_name_is_refused(
    app_client: tuple[Client, Container], user_id: str, name: str
) -> None:
    client, container = app_client
    answer = client.post(PROCESS, json={**VISA, "metadata": {name: "123"}}, headers=bearer(user_id))
    assert_refused(answer)
    assert stored_events(container) == ""


@pytest.mark.parametrize(
    "key", ["order 4111 1111 1111 1111", "order-4111.1111.1111.1111", "o_4111_1111_1111_1111"]
)
def test_an_idempotency_key_holding_a_card_number_is_refused(
    app_client: tuple[Client, Container], user_id: str, key: str
) -> None:
    client, container = app_client
    answer = client.post(PROCESS, json=VISA, headers={**bearer(user_id), "Idempotency-Key": key})
    assert_refused(answer)
    assert stored_events(container) == ""


@pytest.mark.parametrize(
    "request_id", ["4242424242424242", "4242-4242-4242-4242", "4242.4242.4242.4242"]
)
def test_a_request_id_that_looks_like_a_card_number_is_replaced(
    app_client: tuple[Client, Container], user_id: str, request_id: str
) -> None:
    client, container = app_client
    answer = client.post(
        PROCESS, json=VISA, headers={**bearer(user_id), "X-Request-ID": request_id}
    )
    assert answer.status_code == 201
    assert answer.headers["X-Request-ID"] != request_id
    events = container.audit_trail().events_of(UUID(answer.json()["paymentId"]))
    causes = {e.cause["request_id"] for e in events if e.cause}
    assert causes == {answer.headers["X-Request-ID"]}
    stored = stored_events(container)  # random ids in it may hold "4242" by chance
    assert request_id not in stored and "4242424242424242" not in stored


def test_a_well_formed_request_id_is_still_kept(
    app_client: tuple[Client, Container], user_id: str
) -> None:
    client, _ = app_client
    answer = client.post(PROCESS, json=VISA, headers={**bearer(user_id), "X-Request-ID": "req-77"})
    assert answer.headers["X-Request-ID"] == "req-77"

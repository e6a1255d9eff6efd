"""A derived key is released once its payment is refunded in full: buying again charges again."""

from collections.abc import Callable
from typing import Any

from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import bearer

Client = TestClient[Any]
PROCESS = "/api/payments/process"
COURSE = {"amount": 5000, "currency": "usd", "paymentMethodId": "pm_card_visa", "courseId": "c-9"}


def refund(client: Client, payment_id: str, amount: int | None = None) -> None:
    body: dict[str, Any] = {"paymentId": payment_id}
    if amount is not None:
        body["amount"] = amount
    answer = client.post("/api/payments/refund", json=body, headers=bearer("ops", "admin"))
    assert answer.status_code == 200, answer.text


def charges(container: Container) -> int:
    return len(container.gateway().charge_calls)


def test_a_course_refunded_in_full_and_bought_again_is_charged_under_a_new_payment(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    user_id: str,
) -> None:
    container = make_container(backend_env)
    with TestClient(create_app(container)) as client:
        first = client.post(PROCESS, json=COURSE, headers=bearer(user_id))
        replay = client.post(PROCESS, json=COURSE, headers=bearer(user_id))
        refund(client, first.json()["paymentId"])
        again = client.post(PROCESS, json=COURSE, headers=bearer(user_id))
        repeat = client.post(PROCESS, json=COURSE, headers=bearer(user_id))
        old = client.get(f"/api/payments/{first.json()['paymentId']}", headers=bearer(user_id))

    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    assert again.json()["status"] == "succeeded"
    assert again.json()["paymentId"] != first.json()["paymentId"]
    assert repeat.json()["paymentId"] == again.json()["paymentId"]  # the new one is kept
    assert charges(container) == 2
    assert old.json()["status"] == "refunded"


def test_a_replay_never_answers_with_a_state_the_payment_has_left(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    user_id: str,
) -> None:
    container = make_container(backend_env)
    with TestClient(create_app(container)) as client:
        first = client.post(PROCESS, json=COURSE, headers=bearer(user_id))
        refund(client, first.json()["paymentId"], amount=1000)
        again = client.post(PROCESS, json=COURSE, headers=bearer(user_id))

    assert again.status_code == 201
    assert again.json()["paymentId"] == first.json()["paymentId"]
    assert again.json()["status"] == "partially_refunded"  # still paid for: no new charge
    assert charges(container) == 1


def test_an_explicit_key_keeps_its_first_answer_after_a_refund(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    user_id: str,
) -> None:
    container = make_container(backend_env)
    keyed = {**bearer(user_id), "Idempotency-Key": "order-77"}
    with TestClient(create_app(container)) as client:
        first = client.post(PROCESS, json=COURSE, headers=keyed)
        refund(client, first.json()["paymentId"])
        again = client.post(PROCESS, json=COURSE, headers=keyed)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert charges(container) == 1


def test_a_course_refunded_in_full_is_bought_again_with_other_metadata(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    user_id: str,
) -> None:
    container = make_container(backend_env)

    def buy(client: Client, checkout: str) -> Any:
        body = {**COURSE, "metadata": {"checkout": checkout}}
        return client.post(PROCESS, json=body, headers=bearer(user_id))

    with TestClient(create_app(container)) as client:
        first = buy(client, "a")
        refund(client, first.json()["paymentId"])
        again = buy(client, "b")
        retried = buy(client, "b")
        old_body = buy(client, "a")
        other = buy(client, "c")

    assert first.status_code == 201
    assert again.status_code == 201, again.text
    assert again.json()["paymentId"] != first.json()["paymentId"]
    # A retry of the new purchase is answered as it was; it is the one paid for now.
    assert retried.status_code == 201, retried.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json()["paymentId"] == again.json()["paymentId"]
    assert charges(container) == 2
    # The new payment is paid for: the same purchase with other metadata is a mismatch.
    for mismatch in (old_body, other):
        assert mismatch.status_code == 422, mismatch.text
        assert mismatch.json()["error"]["code"] == "IDEMPOTENCY_MISMATCH"

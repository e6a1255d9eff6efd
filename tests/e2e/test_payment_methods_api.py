"""A user manages their cards through the HTTP API, on the embedded default and PostgreSQL."""

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.stripe_payment_methods import payment_method_change
from application.payment_method_events import apply_payment_method_event
from entrypoints.container import Container
from tests.conftest import bearer

Client = TestClient[Any]
ROUTE = "/api/payment-methods"


def add(client: Client, user: str, pm_id: str, **extra: object) -> Any:
    return client.post(ROUTE, json={"paymentMethodId": pm_id, **extra}, headers=bearer(user))


def listing(client: Client, user: str) -> list[dict[str, Any]]:
    response = client.get(ROUTE, headers=bearer(user))
    assert response.status_code == 200, response.text
    methods: list[dict[str, Any]] = response.json()["paymentMethods"]
    return methods


def error_code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_user_saves_lists_chooses_charges_and_removes_cards(client: Client, user_id: str) -> None:
    me = bearer(user_id)
    assert listing(client, user_id) == []
    visa = add(client, user_id, "pm_card_visa")
    assert visa.status_code == 201, visa.text
    saved = visa.json()
    assert set(saved) == {
        "id", "brand", "last4", "expMonth", "expYear", "isDefault", "isExpired", "createdAt",
    }  # fmt: skip
    assert (saved["brand"], saved["last4"], saved["isDefault"], saved["isExpired"]) == (
        "visa", "4242", True, False,
    )  # fmt: skip
    mastercard = add(client, user_id, "pm_card_mastercard").json()
    amex = add(client, user_id, "pm_card_amex", setDefault=True).json()
    assert [(m["last4"], m["isDefault"]) for m in listing(client, user_id)] == [
        ("0005", True), ("4444", False), ("4242", False),
    ]  # fmt: skip

    chosen = client.post(f"{ROUTE}/{mastercard['id']}/default", headers=me)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["isDefault"] is True

    charged = client.post(
        "/api/payments/process", json={"amount": 2500, "currency": "usd"}, headers=me
    )
    assert charged.status_code == 201, charged.text

    assert client.delete(f"{ROUTE}/{mastercard['id']}", headers=me).status_code == 204
    assert [(m["last4"], m["isDefault"]) for m in listing(client, user_id)] == [
        ("0005", True), ("4242", False),
    ]  # fmt: skip
    same_purchase = client.post(
        "/api/payments/process",
        json={"amount": 2500, "currency": "usd", "paymentMethodId": mastercard["id"]},
        headers=me,
    )
    assert same_purchase.json() == charged.json(), "the same purchase is the same payment"
    removed = client.post(
        "/api/payments/process",
        json={"amount": 2600, "currency": "usd", "paymentMethodId": mastercard["id"]},
        headers=me,
    )
    assert error_code(removed) == (400, "PAYMENT_METHOD_ERROR")
    for pm in (amex, saved):
        assert client.delete(f"{ROUTE}/{pm['id']}", headers=me).status_code == 204
    no_default = client.post(
        "/api/payments/process", json={"amount": 2700, "currency": "usd"}, headers=me
    )
    assert error_code(no_default) == (400, "PAYMENT_METHOD_ERROR")


def test_another_users_payment_method_is_not_found_in_every_route(
    client: Client, user_id: str
) -> None:
    theirs = add(client, "someone-else", "pm_card_visa").json()["id"]
    mine = add(client, user_id, "pm_card_mastercard").json()["id"]
    me = bearer(user_id)
    for pm_id in (theirs, "pm_unknown_123", "not-an-id"):
        assert error_code(client.delete(f"{ROUTE}/{pm_id}", headers=me)) == (404, "NOT_FOUND")
        chosen = client.post(f"{ROUTE}/{pm_id}/default", headers=me)
        assert error_code(chosen) == (404, "NOT_FOUND")
    for pm_id in (theirs, "pm_unknown_123"):
        assert error_code(add(client, user_id, pm_id)) == (404, "NOT_FOUND")
    charged = client.post(
        "/api/payments/process",
        json={"amount": 2500, "currency": "usd", "paymentMethodId": theirs},
        headers=me,
    )
    assert error_code(charged) == (400, "PAYMENT_METHOD_ERROR")
    assert [m["id"] for m in listing(client, user_id)] == [mine]
    assert [(m["id"], m["isDefault"]) for m in listing(client, "someone-else")] == [(theirs, True)]


def test_a_declined_card_is_not_saved(client: Client, user_id: str) -> None:
    declined = add(client, user_id, "pm_card_chargeDeclined")
    assert error_code(declined) == (402, "CARD_DECLINED")
    assert listing(client, user_id) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"paymentMethodId": "pm_4242424242424242"}, "paymentMethodId"),
        ({"paymentMethodId": "pm_card_visa", "setDefault": "true"}, "setDefault"),
        ({"paymentMethodId": "pm_card_visa", "cvc": "123"}, "cvc"),
        ({"paymentMethodId": "pm_card_visa", "number": "4242424242424242"}, "number"),
        ({"paymentMethodId": "card_123"}, "paymentMethodId"),
        ({}, "paymentMethodId"),
    ],
)
def test_bad_bodies_are_refused_and_change_nothing(
    client: Client, user_id: str, body: dict[str, Any], field: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    response = client.post(ROUTE, json=body, headers=bearer(user_id))
    assert error_code(response) == (400, "VALIDATION_ERROR")
    assert field in response.json()["error"]["message"]
    assert "4242424242424242" not in response.text + caplog.text
    assert listing(client, user_id) == []


def test_routes_need_a_bearer_token(client: Client) -> None:
    assert error_code(client.get(ROUTE)) == (401, "UNAUTHORIZED")
    assert error_code(client.post(ROUTE, json={"paymentMethodId": "pm_card_visa"})) == (
        401, "UNAUTHORIZED",
    )  # fmt: skip
    assert error_code(client.delete(f"{ROUTE}/pm_x")) == (401, "UNAUTHORIZED")


def test_a_card_changed_at_stripe_is_updated_and_flagged_once_expired(
    client: Client, container: Container, user_id: str
) -> None:
    """What the webhook route does with payment_method.updated, then the listing."""
    saved = add(client, user_id, "pm_card_visa").json()
    wallet = container.wallets().find(user_id)
    assert wallet is not None and wallet.customer_id
    event = {
        "type": "payment_method.updated",
        "created": int(datetime.now(UTC).timestamp()) + 5,
        "data": {
            "object": {
                "id": saved["id"], "object": "payment_method", "type": "card",
                "created": int(datetime.fromisoformat(saved["createdAt"]).timestamp()),
                "customer": wallet.customer_id,
                "card": {"brand": "visa", "last4": "4242", "exp_month": 1, "exp_year": 2024,
                         "fingerprint": "abc"},
            },
            "previous_attributes": {"card": {"exp_month": 12, "exp_year": 2034}},
        },
    }  # fmt: skip
    change = payment_method_change(event)
    assert change is not None
    assert apply_payment_method_event(change, wallets=container.wallets()) == "applied"
    [card] = listing(client, user_id)
    assert (card["expMonth"], card["expYear"], card["isExpired"]) == (1, 2024, True)


def test_the_routes_are_in_the_openapi_schema(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    operations = {op["operationId"] for path in paths.values() for op in path.values()}
    assert {
        "listPaymentMethods", "addPaymentMethod", "removePaymentMethod",
        "choosePaymentMethodAsDefault",
    } <= operations  # fmt: skip
    body = paths["/api/payment-methods"]["post"]["requestBody"]
    assert body["required"] is True

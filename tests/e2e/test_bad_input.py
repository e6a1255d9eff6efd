"""Every bad input gets a clear error from the contract and changes nothing."""

import json
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from tests.conftest import JWT_SECRET, bearer, make_token

Client = TestClient[Any]
VISA = {"amount": 1000, "currency": "usd", "paymentMethodId": "pm_card_visa"}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def nothing_stored(client: Client, user_id: str) -> bool:
    return client.get("/api/payments/history", headers=bearer(user_id)).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VISA, "amount": "1000"}, "amount"),
        ({**VISA, "amount": 10.5}, "amount"),
        ({**VISA, "amount": True}, "amount"),
        ({**VISA, "amount": -1}, "amount"),
        ({**VISA, "amount": 0}, "amount"),
        ({**VISA, "amount": 10**30}, "amount"),
        ({**VISA, "amount": 100_000_000}, "amount"),
        ({**VISA, "amount": 49}, "amount"),
        ({**VISA, "amount": 50050, "currency": "isk"}, "amount"),  # whole krónur only
        ({**VISA, "amount": 1005, "currency": "kwd"}, "amount"),
        ({**VISA, "currency": "xyz"}, "currency"),
        ({**VISA, "currency": "US"}, "currency"),
        ({**VISA, "currency": 840}, "currency"),
        ({**VISA, "paymentMethodId": ""}, "paymentMethodId"),
        ({**VISA, "paymentMethodId": "pm bad"}, "paymentMethodId"),
        ({**VISA, "metadata": {"k": 1}}, "metadata"),
        ({**VISA, "metadata": {"k": {"nested": "x"}}}, "metadata"),
        ({**VISA, "metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
        ({**VISA, "metadata": {"note": "4242 4242 4242 4242"}}, "metadata.note"),
        ({**VISA, "metadata": {"cvc": "123"}}, "metadata.cvc"),
        ({**VISA, "courseId": "4000000000000002"}, "courseId"),
        ({"currency": "usd", "paymentMethodId": "pm_card_visa"}, "amount"),
        ({**VISA, "cardNumber": "x"}, "cardNumber"),
    ],
)
def test_bad_payment_bodies_name_the_field(
    client: Client, user_id: str, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/payments/process", json=body, headers=bearer(user_id))
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in error["error"]["message"]
    assert "4242" not in response.text and "4000000000000002" not in response.text
    assert nothing_stored(client, user_id)


@pytest.mark.parametrize("raw", [b"{", b"not json", b"[]", b"null", b'{"amount": 1000,}'])
def test_malformed_json_is_a_validation_error(client: Client, user_id: str, raw: bytes) -> None:
    headers = {**bearer(user_id), "Content-Type": "application/json"}
    response = client.post("/api/payments/process", content=raw, headers=headers)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert nothing_stored(client, user_id)


def test_a_body_that_is_not_json_is_refused(client: Client, user_id: str) -> None:
    headers = {**bearer(user_id), "Content-Type": "text/plain"}
    response = client.post("/api/payments/process", content=json.dumps(VISA), headers=headers)
    assert_error(response, 415, "VALIDATION_ERROR")


@pytest.mark.parametrize("key", ["x" * 256, "tab\there"])
def test_bad_idempotency_keys(client: Client, user_id: str, key: str) -> None:
    response = client.post(
        "/api/payments/process", json=VISA, headers={**bearer(user_id), "Idempotency-Key": key}
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    assert nothing_stored(client, user_id)


def test_unknown_payment_method(client: Client, user_id: str) -> None:
    response = client.post(
        "/api/payments/process",
        json={**VISA, "paymentMethodId": "pm_nope"},
        headers=bearer(user_id),
    )
    assert_error(response, 400, "PAYMENT_METHOD_ERROR")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer not-a-token",
        f"Bearer {make_token('u', ttl=-10)}",
        f"Bearer {make_token('u', secret='another-secret-another-secret-xx')}",
        "Bearer " + jwt.encode({"sub": "u", "exp": 9999999999}, key=None, algorithm="none"),  # type: ignore[arg-type]
        "Bearer "
        + jwt.encode(
            {"sub": "u", "exp": 9999999999, "roles": "admin"}, JWT_SECRET, algorithm="HS256"
        ),
        "Bearer " + jwt.encode({"sub": "u"}, JWT_SECRET, algorithm="HS256"),
        "Bearer " + jwt.encode({"sub": "u", "exp": 9999999999}, JWT_SECRET, algorithm="HS512"),
    ],
)
def test_missing_invalid_or_expired_tokens_are_unauthorized(
    client: Client, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    assert_error(client.get("/api/payments/history", headers=headers), 401, "UNAUTHORIZED")
    assert_error(
        client.post("/api/payments/process", json=VISA, headers=headers), 401, "UNAUTHORIZED"
    )


def test_refund_rules(client: Client, user_id: str) -> None:
    charged = client.post("/api/payments/process", json=VISA, headers=bearer(user_id)).json()
    payment_id = charged["paymentId"]
    admin = bearer("ops", "admin")
    assert_error(
        client.post(
            "/api/payments/refund", json={"paymentId": payment_id}, headers=bearer(user_id)
        ),
        403,
        "FORBIDDEN",
    )
    assert_error(
        client.post(
            "/api/payments/refund", json={"paymentId": payment_id, "amount": 1001}, headers=admin
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        client.post(
            "/api/payments/refund", json={"paymentId": payment_id, "amount": -5}, headers=admin
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        client.post(
            "/api/payments/refund", json={"paymentId": payment_id, "amount": "5"}, headers=admin
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        client.post("/api/payments/refund", json={"paymentId": "not-a-uuid"}, headers=admin),
        404,
        "NOT_FOUND",
    )
    assert_error(
        client.post(
            "/api/payments/refund",
            json={"paymentId": "00000000-0000-0000-0000-000000000001"},
            headers=admin,
        ),
        404,
        "NOT_FOUND",
    )
    assert client.get(f"/api/payments/{payment_id}", headers=admin).json()["refundedAmount"] == 0

    declined = client.post(
        "/api/payments/process",
        json={**VISA, "paymentMethodId": "pm_card_chargeDeclined"},
        headers=bearer(user_id),
    ).json()
    assert_error(
        client.post(
            "/api/payments/refund", json={"paymentId": declined["paymentId"]}, headers=admin
        ),
        400,
        "INVALID_STATUS",
    )


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "offset=-1", "status=bogus"]
)
def test_bad_history_queries(client: Client, user_id: str, query: str) -> None:
    assert_error(
        client.get(f"/api/payments/history?{query}", headers=bearer(user_id)),
        400,
        "VALIDATION_ERROR",
    )


def test_unknown_routes_and_ids_are_not_found(client: Client, user_id: str) -> None:
    assert_error(client.get("/api/payments/not-a-uuid", headers=bearer(user_id)), 404, "NOT_FOUND")
    assert_error(client.get("/api/nothing-here", headers=bearer(user_id)), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VISA, "courseId": "course\u0000-1"}, "courseId"),
        ({**VISA, "metadata": {"note": "a\u0000b"}}, "metadata.note"),
        ({**VISA, "metadata": {"k\u0000": "v"}}, "metadata"),
    ],
)
def test_nul_characters_are_refused_before_they_reach_a_read_model(
    client: Client, user_id: str, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/payments/process", json=body, headers=bearer(user_id))
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["error"]["message"].startswith(f"{field}: must not contain NUL")
    assert nothing_stored(client, user_id)


def test_a_partial_refund_in_fractions_stripe_refuses_is_a_validation_error(
    client: Client, user_id: str
) -> None:
    body = {**VISA, "amount": 50000, "currency": "isk"}
    charged = client.post("/api/payments/process", json=body, headers=bearer(user_id))
    assert charged.status_code == 201, charged.text
    payment_id = charged.json()["paymentId"]
    admin = bearer("ops", "admin")

    refused = client.post(
        "/api/payments/refund", json={"paymentId": payment_id, "amount": 250}, headers=admin
    )

    error = assert_error(refused, 400, "VALIDATION_ERROR")
    assert error["error"]["message"] == "amount: must be a multiple of 100 for isk"
    assert client.get(f"/api/payments/{payment_id}", headers=admin).json()["refundedAmount"] == 0
    whole = client.post(
        "/api/payments/refund", json={"paymentId": payment_id, "amount": 200}, headers=admin
    )
    assert whole.status_code == 200, whole.text

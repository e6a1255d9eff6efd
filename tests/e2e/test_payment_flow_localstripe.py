"""The walking skeleton's flow, unchanged, against stripe-python talking to localstripe."""

import pytest

from tests.conftest import bearer, eventually
from tests.e2e.test_payment_flow import (
    VISA,
    Client,
    test_a_repeated_request_returns_the_same_payment,
    test_another_users_payment_is_not_found,
    test_charge_read_refund_half_refund_rest,
    test_openapi_and_health,
)

__all__ = [
    "test_a_repeated_request_returns_the_same_payment",
    "test_another_users_payment_is_not_found",
    "test_charge_read_refund_half_refund_rest",
    "test_openapi_and_health",
]
pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def backend_env(
    request: pytest.FixtureRequest, base_env: dict[str, str], localstripe_url: str
) -> dict[str, str]:
    """The service with STRIPE_SECRET_KEY and STRIPE_API_BASE pointing at localstripe."""
    env = {
        **base_env,
        "STRIPE_SECRET_KEY": "sk_test_localstripe_0123456789",
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
    }
    if request.param == "postgres":
        env["PAYMENTS_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    return env


def test_the_stripe_gateway_is_the_one_in_use(client: Client, user_id: str) -> None:
    charged = client.post("/api/payments/process", json=VISA, headers=bearer(user_id)).json()
    assert not charged["stripePaymentIntentId"].startswith("pi_sim_")


def test_a_card_declined_by_localstripe_is_recorded_as_failed(client: Client, user_id: str) -> None:
    me = bearer(user_id)
    body = {**VISA, "paymentMethodId": "pm_card_chargeCustomerFail"}
    declined = client.post("/api/payments/process", json=body, headers=me)
    assert (declined.status_code, declined.json()["error"]["code"]) == (402, "CARD_DECLINED")
    payment_id = declined.json()["paymentId"]
    assert client.get(f"/api/payments/{payment_id}", headers=me).json()["status"] == "failed"
    assert eventually(
        lambda: client.get("/api/payments/history?status=failed", headers=me).json()["total"] == 1
    )

"""Cards managed end to end against stripe-python talking to localstripe."""

import httpx
import pytest
import stripe

from tests.conftest import bearer
from tests.e2e.test_payment_methods_api import ROUTE, Client, add, error_code, listing
from tests.stripe_fixtures import event, signed

pytestmark = pytest.mark.integration
STRIPE_KEY = "sk_test_localstripe_0123456789"


@pytest.fixture(params=["sqlite", "postgres"])
def backend_env(
    request: pytest.FixtureRequest, base_env: dict[str, str], localstripe_url: str
) -> dict[str, str]:
    env = {
        **base_env,
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
    }
    if request.param == "postgres":
        env["PAYMENTS_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    return env


class StripeJs:
    """What Stripe.js does in the browser: card numbers go to Stripe, never to the service."""

    def __init__(self, url: str) -> None:
        self.client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": url})

    def __call__(self, number: str) -> str:
        card = {"number": number, "exp_month": 11, "exp_year": 2031, "cvc": "123"}
        return str(self.client.v1.payment_methods.create({"type": "card", "card": card}).id)


@pytest.fixture
def stripe_js(localstripe_url: str) -> StripeJs:
    return StripeJs(localstripe_url)


def test_a_user_manages_cards_at_stripe(client: Client, user_id: str, stripe_js: StripeJs) -> None:
    me = bearer(user_id)
    visa = add(client, user_id, "pm_card_visa")
    assert visa.status_code == 201, visa.text
    visa_id = visa.json()["id"]
    assert visa_id.startswith("pm_") and visa_id != "pm_card_visa"
    second = add(client, user_id, stripe_js("5555555555554444"), setDefault=True).json()
    assert (second["last4"], second["expMonth"], second["expYear"]) == ("4444", 11, 2031)
    assert [(m["id"], m["isDefault"]) for m in listing(client, user_id)] == [
        (second["id"], True), (visa_id, False),
    ]  # fmt: skip
    at_stripe = stripe_js.client.v1.payment_methods.retrieve(second["id"])
    customer = at_stripe.customer
    assert customer and customer.startswith("cus_")

    charged = client.post(
        "/api/payments/process", json={"amount": 2500, "currency": "usd"}, headers=me
    )
    assert charged.status_code == 201, charged.text
    intent = stripe_js.client.v1.payment_intents.retrieve(charged.json()["stripePaymentIntentId"])
    assert (intent.payment_method, intent.customer) == (second["id"], customer)

    assert client.delete(f"{ROUTE}/{second['id']}", headers=me).status_code == 204
    assert stripe_js.client.v1.payment_methods.retrieve(second["id"]).customer is None
    assert [(m["id"], m["isDefault"]) for m in listing(client, user_id)] == [(visa_id, True)]

    declined = add(client, user_id, stripe_js("4000000000000002"))
    assert error_code(declined) == (402, "CARD_DECLINED")
    assert [m["id"] for m in listing(client, user_id)] == [visa_id]


def test_another_users_card_at_stripe_is_not_found(
    client: Client, user_id: str, stripe_js: StripeJs
) -> None:
    theirs = add(client, "someone-else", "pm_card_visa").json()["id"]
    assert error_code(add(client, user_id, theirs)) == (404, "NOT_FOUND")
    me = bearer(user_id)
    assert error_code(client.delete(f"{ROUTE}/{theirs}", headers=me)) == (404, "NOT_FOUND")
    assert error_code(client.post(f"{ROUTE}/{theirs}/default", headers=me)) == (404, "NOT_FOUND")
    owner = stripe_js.client.v1.payment_methods.retrieve(theirs).customer
    assert owner and [m["id"] for m in listing(client, "someone-else")] == [theirs]
    assert listing(client, user_id) == []


def test_a_purchase_whose_3d_secure_failed_is_bought_anew_once_its_intent_is_canceled(
    client: Client, user_id: str, stripe_js: StripeJs, localstripe_url: str
) -> None:
    """After a failed 3-D Secure check Stripe keeps the intent open for another card, and the
    checkout page holds its secret: buying again first cancels it, so it can never be paid."""
    me = bearer(user_id)
    method = add(client, user_id, stripe_js("4000002500003155")).json()["id"]
    body = {"amount": 4200, "currency": "usd", "paymentMethodId": method, "courseId": "c-3ds"}
    waiting = client.post("/api/payments/process", json=body, headers=me)
    assert waiting.status_code == 201, waiting.text
    assert waiting.json()["status"] == "requires_action"
    first_id, intent_id = waiting.json()["paymentId"], waiting.json()["stripePaymentIntentId"]
    stripe_js_finishes = {"client_secret": waiting.json()["clientSecret"], "success": "false"}
    failed = httpx.post(
        f"{localstripe_url}/v1/payment_intents/{intent_id}/_authenticate",
        data={**stripe_js_finishes, "key": "pk_test_localstripe"},
    )
    assert failed.status_code == 200
    # Stripe's webhook on the failure, made from localstripe's own intent.
    intent = stripe_js.client.v1.payment_intents.retrieve(intent_id).to_dict()
    assert intent["status"] == "requires_payment_method"
    report = signed(event("payment_intent.payment_failed", intent))
    assert client.post("/api/webhooks/stripe", **report).status_code == 200
    assert client.get(f"/api/payments/{first_id}", headers=me).json()["status"] == "failed"

    again = client.post("/api/payments/process", json=body, headers=me)

    assert again.status_code == 201, again.text
    assert again.json()["paymentId"] != first_id
    assert again.json()["stripePaymentIntentId"] != intent_id
    assert stripe_js.client.v1.payment_intents.retrieve(intent_id).status == "canceled"
    old = client.get(f"/api/payments/{first_id}", headers=me).json()
    assert old["status"] == "failed"  # the customer still sees why it failed
    assert old["failureCode"] == "payment_intent_authentication_failure"

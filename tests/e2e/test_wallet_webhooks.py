"""Stripe's payment_method.* webhooks keep a user's wallet true, exactly once."""

import time
from datetime import datetime
from typing import Any

from litestar.testing import TestClient

from entrypoints.container import Container
from tests.conftest import bearer
from tests.stripe_fixtures import event, payment_method, signed

Client = TestClient[Any]
URL = "/api/webhooks/stripe"


def cards(client: Client, user_id: str) -> list[dict[str, Any]]:
    answer = client.get("/api/payment-methods", headers=bearer(user_id))
    methods: list[dict[str, Any]] = answer.json()["paymentMethods"]
    return methods


def test_a_card_changed_at_stripe_is_changed_in_the_wallet(
    client: Client, container: Container, user_id: str
) -> None:
    saved = client.post(
        "/api/payment-methods", json={"paymentMethodId": "pm_card_visa"}, headers=bearer(user_id)
    ).json()
    wallet = container.wallets().find(user_id)
    assert wallet is not None and wallet.customer_id
    created = int(datetime.fromisoformat(saved["createdAt"]).timestamp())
    updated = event(
        "payment_method.updated",
        payment_method(saved["id"], wallet.customer_id, created=created, exp=(3, 2036)),
        created=int(time.time()) + 60,  # the bank renewed the card after it was saved
    )

    first = client.post(URL, **signed(updated))
    again = client.post(URL, **signed(updated))

    assert first.status_code == again.status_code == 200
    assert [(c["id"], c["expMonth"], c["expYear"]) for c in cards(client, user_id)] == [
        (saved["id"], 3, 2036)
    ]
    store = container.payment_store()
    assert store.find_receipt(updated["id"]).outcome == "applied"  # type: ignore[union-attr]
    assert container.wallets().find(user_id).version == wallet.version + 1  # type: ignore[union-attr]

    detached = event("payment_method.detached", payment_method(saved["id"], None, created=created))
    detached["data"]["previous_attributes"] = {"customer": wallet.customer_id}
    assert client.post(URL, **signed(detached)).status_code == 200
    assert cards(client, user_id) == []

"""Deliveries that must be refused, and the ones Stripe must be told to send again."""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import WEBHOOK_SECRET
from tests.e2e.test_bad_input import assert_error
from tests.e2e.test_webhooks import URL, details, start_payment
from tests.stripe_fixtures import event, new_id, payment_intent, signature, signed

Client = TestClient[Any]


@pytest.fixture
def paid_event(client: Client) -> tuple[str, dict[str, Any]]:
    payment_id, pi = start_payment(client, "delivery-user")
    return payment_id, event("payment_intent.succeeded", payment_intent(pi, "succeeded"))


def unchanged(client: Client, container: Container, payment_id: str, evt: dict[str, Any]) -> bool:
    status = details(client, payment_id)["status"]
    return status == "requires_action" and container.payment_store().find_receipt(evt["id"]) is None


def test_forged_signature(client: Client, container: Container, paid_event: Any) -> None:
    payment_id, evt = paid_event
    forged = client.post(URL, **signed(evt, secret="whsec_attacker"))
    body = assert_error(forged, 400, "VALIDATION_ERROR")
    assert body["error"]["message"] == "Stripe-Signature: does not match the payload"
    assert unchanged(client, container, payment_id, evt)


def test_tampered_body(client: Client, container: Container, paid_event: Any) -> None:
    payment_id, evt = paid_event
    request = signed(evt)
    request["content"] = request["content"].replace(b"succeeded", b"succeedeD", 1)
    assert_error(client.post(URL, **request), 400, "VALIDATION_ERROR")
    assert unchanged(client, container, payment_id, evt)


def test_stale_signature(client: Client, container: Container, paid_event: Any) -> None:
    payment_id, evt = paid_event
    stale = client.post(URL, **signed(evt, timestamp=int(time.time()) - 301))
    body = assert_error(stale, 400, "VALIDATION_ERROR")
    assert "more than 300 s old" in body["error"]["message"]
    assert unchanged(client, container, payment_id, evt)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "Stripe-Signature: missing"),
        ("", "Stripe-Signature: missing"),
        ("v1=abc", "Stripe-Signature: malformed; expected t=...,v1=..."),
        ("t=notanumber,v1=abc", "Stripe-Signature: malformed; expected t=...,v1=..."),
        ("t=1700000000,v0=abc", "Stripe-Signature: malformed; expected t=...,v1=..."),
    ],
)
def test_missing_or_malformed_signature(
    client: Client, container: Container, paid_event: Any, header: str | None, reason: str
) -> None:
    payment_id, evt = paid_event
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    response = client.post(URL, content=json.dumps(evt).encode(), headers=headers)
    assert assert_error(response, 400, "VALIDATION_ERROR")["error"]["message"] == reason
    assert unchanged(client, container, payment_id, evt)


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[]", b'{"id": "evt_1", "type": "x"}', b'{"id": "x", "type": "a.b", '
     b'"created": 1, "data": {"object": {}}}'],
)  # fmt: skip
def test_signed_but_malformed_json(client: Client, payload: bytes) -> None:
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature(payload)}
    response = client.post(URL, content=payload, headers=headers)
    assert assert_error(response, 400, "VALIDATION_ERROR")["error"]["message"].startswith(
        "body: is not a Stripe event"
    )


def test_oversized_body_is_refused_before_parsing(client: Client) -> None:
    payload = b'{"id": "evt_big", "pad": "' + b"x" * (256 * 1024) + b'"}'
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature(payload)}
    response = client.post(URL, content=payload, headers=headers)
    assert_error(response, 413, "VALIDATION_ERROR")


def test_oversized_body_without_a_length_is_cut_off_while_streaming(client: Client) -> None:
    chunks = [b'{"id": "evt_big", "pad": "'] + [b"x" * 65536] * 5 + [b'"}']
    headers = {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"}
    response = client.post(URL, content=iter(chunks), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_error(response, 413, "VALIDATION_ERROR")


def test_wrong_content_type(client: Client, container: Container, paid_event: Any) -> None:
    payment_id, evt = paid_event
    request = signed(evt)
    request["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
    assert_error(client.post(URL, **request), 415, "VALIDATION_ERROR")
    assert unchanged(client, container, payment_id, evt)


@pytest.fixture
def rotating_client(
    base_env: dict[str, str], make_container: Callable[..., Container]
) -> Iterator[Client]:
    env = {**base_env, "STRIPE_WEBHOOK_SECRET": f"whsec_new_secret_1, {WEBHOOK_SECRET}"}
    with TestClient(create_app(make_container(env))) as test_client:
        yield test_client


def test_both_secrets_are_accepted_while_rotating(rotating_client: Client) -> None:
    _, pi_old = start_payment(rotating_client, "rotation-user")
    _, pi_new = start_payment(rotating_client, "rotation-user")
    old = event("payment_intent.succeeded", payment_intent(pi_old, "succeeded"))
    new = event("payment_intent.succeeded", payment_intent(pi_new, "succeeded"))
    assert rotating_client.post(URL, **signed(old, secret=WEBHOOK_SECRET)).status_code == 200
    assert rotating_client.post(URL, **signed(new, secret="whsec_new_secret_1")).status_code == 200
    stale_old = signed(new, secret=WEBHOOK_SECRET, timestamp=int(time.time()) - 400)
    assert rotating_client.post(URL, **stale_old).status_code == 400


def test_unrecorded_payment_of_ours_is_refused_so_that_stripe_sends_it_again(
    client: Client, container: Container
) -> None:
    not_yet = str(uuid.uuid4())
    evt = event(
        "payment_intent.succeeded", payment_intent(new_id("pi"), "succeeded", payment_id=not_yet)
    )
    response = client.post(URL, **signed(evt))
    assert_error(response, 404, "NOT_FOUND")
    assert container.payment_store().find_receipt(evt["id"]) is None


def test_an_event_naming_a_payment_unrecorded_for_over_an_hour_is_acknowledged_and_ignored(
    client: Client, container: Container
) -> None:
    someone_elses = str(uuid.uuid4())
    intent = payment_intent(new_id("pi"), "succeeded", payment_id=someone_elses)
    evt = event("payment_intent.succeeded", intent, created=int(time.time()) - 2 * 3600)
    response = client.post(URL, **signed(evt))
    assert response.status_code == 200
    receipt = container.payment_store().find_receipt(evt["id"])
    assert receipt is not None and receipt.outcome == "ignored"


def test_intent_that_is_not_ours_is_acknowledged_and_ignored(
    client: Client, container: Container
) -> None:
    evt = event("payment_intent.succeeded", payment_intent(new_id("pi"), "succeeded"))
    assert client.post(URL, **signed(evt)).json() == {"received": True}
    receipt = container.payment_store().find_receipt(evt["id"])
    assert receipt is not None and receipt.outcome == "ignored" and receipt.payment_id is None


def test_unknown_type_is_acknowledged_and_counted(client: Client) -> None:
    def counted() -> float:
        for line in client.get("/metrics").text.splitlines():
            labels = 'outcome="unhandled",type="customer.created"'
            if line.startswith(f"webhook_events_total{{{labels}}}"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = counted()
    evt = event("customer.created", {"id": "cus_1", "object": "customer"})
    assert client.post(URL, **signed(evt)).status_code == 200
    assert counted() == before + 1
    assert "webhook_processing_seconds_count" in client.get("/metrics").text

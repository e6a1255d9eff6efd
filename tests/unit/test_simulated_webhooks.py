"""The simulated gateway tells the service, by Stripe's webhooks, what became of its objects."""

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from uuid import UUID

import pytest

from adapters.simulated_gateway import SimulatedGateway
from adapters.simulated_webhooks import WebhookSender
from adapters.stripe_signature import verify_stripe_signature
from adapters.wallet_store import EventSourcedWalletStore
from application.ingest_stripe_event import Outcome, ingest_stripe_event
from application.process_payment import ProcessPayment, process_payment
from application.refund_payment import RefundPayment, refund_payment
from tests.unit.test_refund_and_history import ADMIN
from tests.unit.webhook_streams import command, memory_store

SECRET = "whsec_simulated_test"


class Receiver(BaseHTTPRequestHandler):
    """A loopback endpoint that verifies like the service and refuses the first try of each."""

    received: list[dict[str, Any]]
    tries: dict[str, int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        verify_stripe_signature(body, self.headers["Stripe-Signature"], [SECRET])
        evt = json.loads(body)
        self.tries[evt["id"]] = self.tries.get(evt["id"], 0) + 1
        accepted = self.tries[evt["id"]] > 1
        if accepted:
            self.received.append(evt)
        self.send_response(200 if accepted else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Handler", (Receiver,), {"received": [], "tries": {}})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/webhooks/stripe", handler
    server.shutdown()


def test_charges_and_refunds_are_sent_signed_and_retried(receiver: Any) -> None:
    url, handler = receiver
    sender = WebhookSender(url, SECRET, backoff=0.01)
    store, gateway = memory_store(), SimulatedGateway(webhooks=sender)
    paid = asyncio.run(
        process_payment(
            ProcessPayment(
                user_id="u", amount=1200, currency="eur", payment_method_id="pm_card_visa"
            ),
            store=store,
            gateway=gateway,
            wallets=EventSourcedWalletStore(store.app),
        )
    )
    asyncio.run(
        refund_payment(
            RefundPayment(actor=ADMIN, payment_id=UUID(paid.payment_id), amount=200),
            store=store,
            gateway=gateway,
        )
    )
    assert sender.drain()
    events = handler.received
    assert [e["type"] for e in events] == ["payment_intent.succeeded", "refund.created"]
    assert all(handler.tries[e["id"]] == 2 for e in events)
    intent, refund = (e["data"]["object"] for e in events)
    assert intent["id"] == paid.intent_id and intent["metadata"]["payment_id"] == paid.payment_id
    assert refund["metadata"] == {"payment_id": paid.payment_id, "refund_number": "1"}
    # what the gateway said at once, the webhooks repeat: nothing changes, both are kept
    outcomes = [ingest_stripe_event(command(e), store=store).outcome for e in events]
    assert outcomes == [Outcome.NO_CHANGE, Outcome.NO_CHANGE]


def test_a_declined_card_is_reported_as_payment_failed() -> None:
    sent: list[dict[str, Any]] = []

    class Recorder(WebhookSender):
        def send(self, event: dict[str, Any]) -> None:
            sent.append(event)

    gateway = SimulatedGateway(webhooks=Recorder("http://127.0.0.1:9/unused", SECRET))
    store = memory_store()
    with pytest.raises(Exception, match="declined"):
        asyncio.run(
            process_payment(
                ProcessPayment(
                    user_id="u",
                    amount=1200,
                    currency="usd",
                    payment_method_id="pm_card_chargeDeclined",
                ),
                store=store,
                gateway=gateway,
                wallets=EventSourcedWalletStore(store.app),
            )
        )
    assert [e["type"] for e in sent] == ["payment_intent.payment_failed"]
    error = sent[0]["data"]["object"]["last_payment_error"]
    assert error["decline_code"] == "generic_decline"

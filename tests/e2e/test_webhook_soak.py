"""10,000 deliveries: copies, shuffling and forgeries leave the read model of the genuine events."""

import asyncio
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from application.ingest_stripe_event import ingest_stripe_event
from application.process_payment import ProcessPayment, process_payment
from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import eventually
from tests.e2e.test_webhooks import URL
from tests.stripe_fixtures import charge_refunded, dispute, event, payment_intent, refund, signed
from tests.unit.webhook_streams import command

pytestmark = pytest.mark.slow
PAYMENTS = 1_100
AMOUNT = 10_000


def stream_of(rng: random.Random, pi: str) -> list[dict[str, Any]]:
    """One payment's events in the order Stripe made them."""
    evts = [event("payment_intent.processing", payment_intent(pi, "processing", amount=AMOUNT))]
    ending = rng.choice(["succeeded", "succeeded", "succeeded", "failed", "canceled", "open"])
    if ending == "failed":
        error = {"code": "card_declined", "decline_code": "generic_decline", "message": "No."}
        failed = payment_intent(pi, "requires_payment_method", error=error)
        evts.append(event("payment_intent.payment_failed", failed))
    if ending == "canceled":
        evts.append(event("payment_intent.canceled", payment_intent(pi, "canceled")))
    if ending != "succeeded":
        return evts
    evts.append(event("payment_intent.succeeded", payment_intent(pi, "succeeded", amount=AMOUNT)))
    settled = []
    for n in range(rng.randrange(3)):
        rid, value = f"re_{pi}_{n}", rng.randrange(1, AMOUNT // 3)
        final = rng.choice(["succeeded", "succeeded", "failed"])
        evts.append(event("refund.created", refund(rid, pi, value, "pending")))
        evts.append(event("refund.updated", refund(rid, pi, value, final)))
        settled.append(refund(rid, pi, value, final))
        evts.append(event("charge.refunded", charge_refunded(pi, AMOUNT, list(settled))))
    if rng.random() < 0.3:
        case = dispute(f"dp_{pi}", pi, AMOUNT, "needs_response")
        evts.append(event("charge.dispute.created", case))
    return evts


def invented(genuine: dict[str, Any]) -> dict[str, Any]:
    """An attacker's own event: the whole payment refunded, under a fresh event id."""
    obj = genuine["data"]["object"]
    pi = obj.get("payment_intent") or obj["id"]
    return event("refund.created", refund(f"re_forged_{genuine['id']}", pi, AMOUNT, "succeeded"))


def request_for(evt: dict[str, Any], forgery: str | None) -> dict[str, Any]:
    """Signed as it is sent: genuinely, or by an attacker who guessed or replayed."""
    if forgery in ("guessed", "invented"):
        return signed(evt, secret="whsec_guessed")
    if forgery == "replayed":
        return signed(evt, timestamp=int(time.time()) - 3600)
    return signed(evt)


def open_payments(container: Container, count: int) -> list[str]:
    """Payments waiting for their outcome; the same ids and intents in every container."""
    store, gateway = container.payment_store(), container.gateway()
    intents = []
    for n in range(count):
        made = asyncio.run(process_payment(
            ProcessPayment(
                user_id=f"soak-{n % 10}", amount=AMOUNT, currency="usd",
                payment_method_id="pm_card_authenticationRequired", idempotency_key=f"soak-{n}",
            ),
            store=store,
            gateway=gateway,
            wallets=container.wallets(),
        ))  # fmt: skip
        assert made.intent_id is not None
        intents.append(made.intent_id)
    return intents


def read_model(container: Container, payment_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    runner = container.history_runner()
    assert eventually(lambda: runner.lag() == 0, timeout=60)
    view = container.history()
    rows = {pid: view.find_row(pid) for pid in payment_ids}
    return {
        pid: {k: v for k, v in asdict(row).items() if k not in ("created_at", "updated_at")}
        for pid, row in rows.items()
        if row is not None
    }


@pytest.fixture
def memory_dir() -> Iterator[Path]:
    """Embedded files in memory where the machine has it: this test measures logic, not disks."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as name:
        yield Path(name)


def test_ten_thousand_deliveries_leave_the_read_model_of_the_genuine_events(
    base_env: dict[str, str], make_container: Callable[..., Container], memory_dir: Path
) -> None:
    rng = random.Random(20261126)
    service = make_container({**base_env, "PAYMENTS_DATA_DIR": str(memory_dir / "service")})
    intents = open_payments(service, PAYMENTS)
    streams = [stream_of(rng, pi) for pi in intents]
    genuine = [evt for stream in streams for evt in stream]
    deliveries: list[tuple[dict[str, Any], str | None]] = []
    for evt in genuine:
        deliveries += [(evt, None)] * rng.choice([2, 3])
        if rng.random() < 0.15:
            forgery = rng.choice(["guessed", "replayed", "invented"])
            deliveries.append((invented(evt) if forgery == "invented" else evt, forgery))
    rng.shuffle(deliveries)
    assert len(deliveries) >= 10_000

    answers: dict[str, list[int]] = {}
    with TestClient(create_app(service)) as client:
        for evt, forgery in deliveries:
            status = client.post(URL, **request_for(evt, forgery)).status_code
            assert status == (400 if forgery else 200)
            answers.setdefault(evt["id"], []).append(status)
        store = service.payment_store()
        forged_ids = {e["id"] for e, forgery in deliveries if forgery} - {e["id"] for e in genuine}
        assert forged_ids and not any(store.find_receipt(i) for i in forged_ids)
        acknowledged = [e for e in genuine if 200 in answers[e["id"]]]
        assert len(acknowledged) == len(genuine)
        for evt in acknowledged:
            receipt = store.find_receipt(evt["id"])
            assert receipt is not None and receipt.payment_id is not None
            payment = store.find(UUID(receipt.payment_id))
            assert payment is not None and evt["id"] in payment.stripe_events
        payment_ids = [UUID(store.find_receipt(s[0]["id"]).payment_id) for s in streams]  # type: ignore[union-attr, arg-type]
        shuffled = read_model(service, payment_ids)

    reference = make_container({**base_env, "PAYMENTS_DATA_DIR": str(memory_dir / "reference")})
    assert open_payments(reference, PAYMENTS) == intents
    for evt in genuine:
        ingest_stripe_event(command(evt), store=reference.payment_store())
    reference.history_runner().start()
    expected = read_model(reference, payment_ids)
    assert len(expected) == PAYMENTS
    assert shuffled == expected

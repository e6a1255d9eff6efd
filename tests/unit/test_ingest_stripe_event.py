"""ingest_stripe_event on in-memory persistence: any order, any duplication, one end state."""

import time
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.changes import change_payment
from application.errors import PaymentNotRecordedYet
from application.ingest_stripe_event import (
    NOT_RECORDED_GRACE_SECONDS,
    Outcome,
    ingest_stripe_event,
)
from domain.payment import Payment
from domain.payment_status import payment_id_for
from tests.stripe_fixtures import event, new_id, payment_intent, refund
from tests.unit.webhook_streams import (
    AMOUNT,
    command,
    memory_store,
    payment_streams,
    pending_payment,
    state,
)

INTENT = "pi_property"


@st.composite
def stream_and_delivery(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    payment_id = str(draw(st.uuids()))
    stream = draw(payment_streams(INTENT, payment_id))
    copies = [evt for evt in stream for _ in range(draw(st.integers(1, 3)))]
    return stream, draw(st.permutations(copies)), payment_id


def ended(events: list[dict[str, Any]]) -> tuple[dict[str, Any], list[Outcome]]:
    store = memory_store()
    payment = pending_payment(store, INTENT)
    outcomes = []
    for evt in events:
        metadata = evt["data"]["object"].get("metadata") or {}
        if "payment_id" in metadata:
            metadata["payment_id"] = str(payment.id)
        outcomes.append(ingest_stripe_event(command(evt), store=store).outcome)
    final = store.find(payment.id)
    assert final is not None
    return state(final), outcomes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream_and_delivery())
def test_any_order_and_any_duplication_end_in_the_same_state(case: Any) -> None:
    stream, delivered, _ = case
    in_order, _ = ended(stream)
    shuffled, outcomes = ended(delivered)
    assert shuffled == in_order
    assert outcomes.count(Outcome.DUPLICATE) == len(delivered) - len(stream)


def succeeded(store: Any) -> None:
    paid = event("payment_intent.succeeded", payment_intent(INTENT, "succeeded"))
    assert ingest_stripe_event(command(paid), store=store).outcome is Outcome.APPLIED


def test_a_refund_of_ours_is_matched_by_its_number_even_before_its_id_is_known() -> None:
    store = memory_store()
    payment = pending_payment(store, INTENT)

    ingest_stripe_event(
        command(event("payment_intent.succeeded", payment_intent(INTENT, "succeeded"))), store=store
    )
    requested = change_payment(store, payment.id, lambda p: p.request_refund(3000, None))
    ours = refund(
        new_id("re"), INTENT, 3000, "succeeded", payment_id=str(payment.id), number=requested.number
    )
    ingest_stripe_event(command(event("refund.updated", ours)), store=store)
    after = store.find(payment.id)
    assert after is not None
    assert [(r.number, r.refund_id, r.amount, r.state.value) for r in after.refunds.values()] == [
        (1, ours["id"], 3000, "succeeded")
    ]
    assert after.status.value == "partially_refunded"


def test_an_outside_refund_larger_than_what_is_left_is_imported_not_rejected() -> None:
    store = memory_store()
    payment = pending_payment(store, INTENT)

    ingest_stripe_event(
        command(event("payment_intent.succeeded", payment_intent(INTENT, "succeeded"))), store=store
    )
    change_payment(store, payment.id, lambda p: p.request_refund(9000, None))
    outside = refund(new_id("re"), INTENT, 5000, "succeeded")
    result = ingest_stripe_event(command(event("refund.created", outside)), store=store)
    assert result.outcome is Outcome.APPLIED
    after = store.find(payment.id)
    assert after is not None and after.refunded_amount == 5000


def test_an_event_for_a_payment_not_saved_yet_is_refused_then_applied_when_sent_again() -> None:
    store = memory_store()
    payment_id = payment_id_for("u1", "order-9")
    intent = payment_intent("pi_early", "succeeded", payment_id=str(payment_id))
    early = event("payment_intent.succeeded", intent)
    with pytest.raises(PaymentNotRecordedYet):
        ingest_stripe_event(command(early), store=store)
    assert store.find_receipt(early["id"]) is None
    store.save(
        Payment(
            user_id="u1", amount=AMOUNT, currency="usd", payment_method_id="pm_card_visa",
            course_id=None, metadata={}, idempotency_key="order-9", key_derived=False,
            attempt=0, request_hash="h",
        )
    )  # fmt: skip
    assert ingest_stripe_event(command(early), store=store).outcome is Outcome.APPLIED
    later = store.find(payment_id)
    assert later is not None and (later.status.value, later.intent_id) == ("succeeded", "pi_early")
    assert store.payment_for_intent("pi_early") == payment_id


def test_an_event_naming_a_payment_never_recorded_here_is_kept_as_ignored_after_an_hour() -> None:
    store = memory_store()
    foreign = str(payment_id_for("someone-else", "their-order"))
    intent = payment_intent("pi_theirs", "succeeded", payment_id=foreign)
    now = int(time.time())
    fresh = event("payment_intent.succeeded", intent, created=now - 60)
    old = event("payment_intent.succeeded", intent, created=now - NOT_RECORDED_GRACE_SECONDS - 1)

    with pytest.raises(PaymentNotRecordedYet):  # it may be a payment still being saved
        ingest_stripe_event(replace(command(fresh), received_at=now), store=store)
    kept = ingest_stripe_event(replace(command(old), received_at=now), store=store)

    assert (kept.outcome, kept.payment_id) == (Outcome.IGNORED, None)
    receipt = store.find_receipt(old["id"])
    assert receipt is not None and receipt.outcome == "ignored"
    assert store.find_receipt(fresh["id"]) is None
    assert store.payment_for_intent("pi_theirs") is None


def test_a_copy_of_a_capped_refund_is_a_duplicate_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = memory_store()
    payment = pending_payment(store, INTENT)
    ingest_stripe_event(
        command(event("payment_intent.succeeded", payment_intent(INTENT, "succeeded"))), store=store
    )
    whole = event("refund.created", refund(new_id("re"), INTENT, AMOUNT, "succeeded"))
    assert ingest_stripe_event(command(whole), store=store).outcome is Outcome.APPLIED
    outside = event("refund.created", refund(new_id("re"), INTENT, 100, "succeeded"))
    first = ingest_stripe_event(command(outside), store=store)
    events_after_first = len(store.events_of(payment.id))
    copy = ingest_stripe_event(command(outside), store=store)
    assert first.outcome is Outcome.REFUND_CAPPED and copy.outcome is Outcome.DUPLICATE
    assert len(store.events_of(payment.id)) == events_after_first
    capped = [r for r in caplog.records if "capped" in r.getMessage()]
    assert len(capped) == 1

"""Schema evolution: `Failed` gained `advice_code` in version 2; version 1 rows still read."""

from uuid import UUID

from eventsourcing.persistence import StoredEvent

from adapters.audit_trail import EventStoreAuditTrail
from adapters.eventstore import EventSourcedPaymentStore
from domain.payment import Payment
from domain.payment_status import PaymentStatus

# Exactly what the version 1 class wrote (captured from the release before the change).
FAILED_V1 = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-26T06:06:44.436841+00:00"},'
    b'"code":"card_declined","decline_code":"insufficient_funds",'
    b'"message":"Your card has insufficient funds."}'
)


def initiated(store: EventSourcedPaymentStore) -> Payment:
    payment = Payment(
        user_id="alice", amount=1500, currency="usd", payment_method_id="pm_card_visa",
        course_id=None, metadata={}, idempotency_key="k-1", key_derived=False, attempt=0,
        request_hash="h",
    )  # fmt: skip
    store.save(payment)
    return payment


def test_a_version_1_failure_loads_with_no_advice(store: EventSourcedPaymentStore) -> None:
    payment_id: UUID = initiated(store).id
    store.app.recorder.insert_events(
        [StoredEvent(payment_id, 2, "domain.payment:Payment.Failed", FAILED_V1)]
    )

    loaded = store.find(payment_id)

    assert loaded is not None and loaded.charge_status is PaymentStatus.FAILED
    assert loaded.failure == {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "advice_code": None,
    }
    trail = EventStoreAuditTrail(store.app).events_of(payment_id)
    assert [(e.version, e.type) for e in trail] == [(1, "Initiated"), (2, "Failed")]
    assert trail[1].data["advice_code"] is None
    assert str(trail[1].occurred_at) == "2026-11-26 06:06:44.436841+00:00"


def test_new_failures_are_stored_as_version_2(store: EventSourcedPaymentStore) -> None:
    payment = initiated(store)
    payment.mark_failed("card_declined", "generic_decline", "Declined.", "try_again_later")
    store.save(payment)

    stored = store.app.recorder.select_events(payment.id)[-1]
    state = store.app.mapper.transcoder.decode(stored.state)
    assert state["class_version"] == 2 and state["advice_code"] == "try_again_later"
    loaded = store.find(payment.id)
    assert loaded is not None and loaded.failure is not None
    assert loaded.failure["advice_code"] == "try_again_later"

"""Schema evolution: older stored events still read, as the release that wrote them meant."""

from uuid import UUID

from eventsourcing.persistence import StoredEvent

from adapters.audit_trail import EventStoreAuditTrail
from adapters.eventstore import EventSourcedPaymentStore
from domain.payment import Payment
from domain.payment_status import PaymentStatus, RefundState

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


# A payment of 5000 as the release between 4a35f1e and 6482fe4 wrote it: outside refunds of
# 3000, then 4000 (2000 left: capped), then 10 (nothing left: no refund recorded at all).
# Its version 1 `RefundOverstated` came before the refund it capped and named no number.
OVERSTATED_V1 = [
    (
        "RefundRequested",
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T06:10:48.899356+00:00"},'
        b'"number":1,"amount":3000,"reason":"made outside the service","requested_by":null,'
        b'"idempotency_key":null,"request_hash":null,"class_version":2}',
    ),
    (
        "Refunded",
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T06:10:48.899424+00:00"},'
        b'"number":1,"refund_id":"re_first","amount":3000}',
    ),
    (
        "RefundOverstated",
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T06:10:48.899482+00:00"},'
        b'"refund_id":"re_second","reported":4000,"recorded":2000}',
    ),
    (
        "RefundRequested",
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T06:10:48.899511+00:00"},'
        b'"number":2,"amount":2000,"reason":"made outside the service","requested_by":null,'
        b'"idempotency_key":null,"request_hash":null,"class_version":2}',
    ),
    (
        "Refunded",
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T06:10:48.899527+00:00"},'
        b'"number":2,"refund_id":"re_second","amount":2000}',
    ),
    (
        "RefundOverstated",
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T06:10:48.899549+00:00"},'
        b'"refund_id":"re_third","reported":10,"recorded":0}',
    ),
]


def paid(store: EventSourcedPaymentStore, amount: int) -> Payment:
    payment = Payment(
        user_id="alice", amount=amount, currency="usd", payment_method_id="pm_card_visa",
        course_id=None, metadata={}, idempotency_key="k-1", key_derived=False, attempt=0,
        request_hash="h",
    )  # fmt: skip
    payment.record_intent("pi_1")
    payment.mark_succeeded()
    store.save(payment)
    return payment


def paid_then(
    store: EventSourcedPaymentStore, amount: int, written: list[tuple[str, bytes]]
) -> Payment:
    """A payment of `amount`, then the events an older release wrote, stored as it wrote them."""
    payment = paid(store, amount)
    store.app.recorder.insert_events(
        [
            StoredEvent(payment.id, payment.version + i, f"domain.payment:Payment.{name}", state)
            for i, (name, state) in enumerate(written, start=1)
        ]
    )
    return payment


def test_a_version_1_overstated_refund_loads_as_the_old_release_showed_it(
    store: EventSourcedPaymentStore,
) -> None:
    payment = paid_then(store, 5000, OVERSTATED_V1)

    loaded = store.find(payment.id)

    assert loaded is not None and loaded.status is PaymentStatus.REFUNDED
    assert {n: (r.amount, r.state, r.refund_id) for n, r in loaded.refunds.items()} == {
        1: (3000, RefundState.SUCCEEDED, "re_first"),
        2: (2000, RefundState.SUCCEEDED, "re_second"),
    }
    assert loaded.refunded_amount == 5000 and loaded.refundable_amount == 0
    assert loaded.overstated_refunds == {"re_second": 4000, "re_third": 10}
    trail = EventStoreAuditTrail(store.app).events_of(payment.id)
    assert [e.data["number"] for e in trail if e.type == "RefundOverstated"] == [None, None]


def test_new_overstated_refunds_are_stored_as_version_2_with_their_number(
    store: EventSourcedPaymentStore,
) -> None:
    payment = paid(store, 5000)
    payment.record_refund(None, "re_huge", 8000)
    store.save(payment)

    states = [
        store.app.mapper.transcoder.decode(e.state)
        for e in store.app.recorder.select_events(payment.id)
        if e.topic.endswith(".RefundOverstated")
    ]
    assert [(s["class_version"], s["number"], s["recorded"]) for s in states] == [(2, 1, 5000)]
    loaded = store.find(payment.id)
    assert loaded is not None and loaded.refunds[1].amount == 5000
    assert loaded.overstated_refunds == {"re_huge": 8000}


# The same kind of refund as the releases from 6482fe4 wrote it: the refund requested at what
# Stripe reported, then capped by a `RefundOverstated` naming it, stored with no class version.
OVERSTATED_NUMBERED_UNVERSIONED = [
    (
        "RefundRequested",
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-05T06:10:48.899356+00:00"},'
        b'"number":1,"amount":8000,"reason":"made outside the service","requested_by":null,'
        b'"idempotency_key":null,"request_hash":null,"class_version":2}',
    ),
    (
        "RefundOverstated",
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-05T06:10:48.899424+00:00"},'
        b'"number":1,"refund_id":"re_huge","reported":8000,"recorded":5000}',
    ),
    (
        "Refunded",
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-05T06:10:48.899482+00:00"},'
        b'"number":1,"refund_id":"re_huge","amount":8000}',
    ),
]


def test_an_unversioned_overstated_refund_that_names_its_refund_keeps_its_cap(
    store: EventSourcedPaymentStore,
) -> None:
    payment = paid_then(store, 5000, OVERSTATED_NUMBERED_UNVERSIONED)

    loaded = store.find(payment.id)

    assert loaded is not None and loaded.status is PaymentStatus.REFUNDED
    assert loaded.refunds[1].amount == 5000, "capped at what was left"
    assert loaded.refunded_amount == 5000 and loaded.refundable_amount == 0
    assert loaded.overstated_refunds == {"re_huge": 8000}

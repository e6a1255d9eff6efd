"""Causes stored with events; one active runner per projection, stepping aside for a rebuild."""

import argparse
import threading
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from adapters.audit_trail import EventStoreAuditTrail
from adapters.eventstore import EventSourcedPaymentStore
from adapters.projection_lock import FileProjectionLock
from adapters.projection_runner import PollingProjectionRunner
from application.causes import Cause, api_request, caused_by, current_cause, stripe_event
from application.history import PaymentHistoryProjection
from domain.payment import Payment
from entrypoints import cli, operations
from entrypoints.settings import Settings
from tests.conftest import eventually
from tests.fakes import InMemoryHistoryView
from tests.generated import one_payment


class StripeEventReceipt(Aggregate):
    """Stands in for the webhook's receipt, saved in the same transaction as the payment."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id


def test_each_save_records_its_cause_without_touching_the_domain_events(
    store: EventSourcedPaymentStore,
) -> None:
    payment = one_payment(1, "t")
    with caused_by(api_request("req-1", "alice")):
        store.save(payment)
    loaded = store.find(payment.id)
    assert loaded is not None
    loaded.mark_refund_pending(None, "re_outside", 100)
    receipt = StripeEventReceipt("evt_42")
    with caused_by(stripe_event("evt_42")):
        store.save(loaded, receipt)
    untraced = one_payment(2, "t")
    store.save(untraced)

    trail = EventStoreAuditTrail(store.app)
    causes = [e.cause for e in trail.events_of(payment.id)]
    assert causes[0] == {"request_id": "req-1", "user_id": "alice"}
    assert causes[-2:] == [{"stripe_event_id": "evt_42"}] * 2
    assert trail.events_of(receipt.id)[0].cause == {"stripe_event_id": "evt_42"}
    assert {e.cause for e in trail.events_of(untraced.id)} == {None}
    assert all("__cause__" not in vars(e) for e in store.app.events.get(payment.id))


def runner(store: EventSourcedPaymentStore, lock_dir: Path) -> PollingProjectionRunner:
    view = InMemoryHistoryView()
    return PollingProjectionRunner(
        store.app,
        PaymentHistoryProjection(view=view),
        view,
        lock=FileProjectionLock(lock_dir, "history"),
    )


def test_one_runner_leads_and_a_rebuild_takes_the_lead_between_batches(
    store: EventSourcedPaymentStore, tmp_path: Path
) -> None:
    store.save(*(one_payment(n, "t") for n in range(5)))
    leader, follower, rebuilder = (runner(store, tmp_path) for _ in range(3))

    assert leader.cycle() > 0 and leader.active
    assert follower.cycle() == 0 and not follower.active
    assert rebuilder.lock is not None and rebuilder.lock.acquire_for_rebuild(timeout=0.2) is False

    rebuilt: list[int] = []
    rebuild = threading.Thread(target=lambda: rebuilt.append(rebuilder.rebuild(timeout=5)))
    rebuild.start()
    assert eventually(lambda: leader.cycle() == 0 and not leader.active)  # it stepped aside
    rebuild.join()
    assert rebuilt == [store.app.recorder.max_notification_id()]
    assert leader.cycle() == 0 and leader.active  # and leads again, with nothing left to do
    for r in (leader, follower, rebuilder):
        r.stop()


def test_a_rebuilt_view_equals_the_incremental_one(store: EventSourcedPaymentStore) -> None:
    view = InMemoryHistoryView()
    projection = PollingProjectionRunner(store.app, PaymentHistoryProjection(view=view), view)
    for n in range(30):
        store.save(one_payment(n, "t"))
        projection.run_once()
    live = (dict(view.rows), dict(view.counts))

    projection.rebuild()

    assert (view.rows, view.counts) == live
    assert {p.id for p in [one_payment(n, "t") for n in range(30)]} == set(view.rows)
    assert isinstance(next(iter(store.app.events.get(next(iter(view.rows))))), Payment.Initiated)


def test_a_command_line_run_is_the_cause_of_what_it_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[Cause | None] = []

    def replay(args: argparse.Namespace, settings: Settings) -> int:
        seen.append(current_cause())
        return 0

    monkeypatch.setattr(operations, "replay", replay)
    monkeypatch.setenv("PAYMENTS_DATA_DIR", str(tmp_path))
    assert cli.main(["replay"]) == 0
    assert seen == [Cause(command="payment-service replay")]
    assert current_cause() is None


class StuckView(InMemoryHistoryView):
    """A history view whose runner's writes wait until `release` (a slow database)."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.release = threading.Event()

    def write_rows(self, *args: Any) -> None:
        if threading.current_thread().name.startswith("projection-"):
            self.writing.set()
            self.release.wait(10)
        super().write_rows(*args)


def test_a_shutdown_mid_batch_neither_catches_up_beside_it_nor_gives_its_lock_away(
    store: EventSourcedPaymentStore, tmp_path: Path
) -> None:
    store.save(*(one_payment(n, "t") for n in range(1, 4)))
    view = StuckView()
    stopping = PollingProjectionRunner(
        store.app,
        PaymentHistoryProjection(view=view),
        view,
        lock=FileProjectionLock(tmp_path, "history"),
    )
    stopping.start()
    assert view.writing.wait(5)
    store.save(*(one_payment(n, "t") for n in range(4, 7)))  # drained before shutdown

    stopping.stop(timeout=0.2, catch_up=True)

    assert runner(store, tmp_path).cycle() == 0, "no standby writes beside the batch"
    view.release.set()
    assert stopping._thread is not None
    stopping._thread.join(5)
    for n in range(1, 7):
        user = f"t-user-{n}"
        assert view.page(user, limit=10, offset=0, status=None).total == len(
            [r for r in view.rows.values() if r.user_id == user]
        )

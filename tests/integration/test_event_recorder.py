"""The one-round-trip insert keeps the library's guarantees on real PostgreSQL.

Readers of the notification log (every projection) rely on notification order being commit
order: a reader must never pass over an id that a slower transaction fills in later.
"""

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.event_recorder import OneTripApplicationRecorder
from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.migrations import shipped_migrations
from application.errors import ConcurrencyConflict
from domain.payment import Payment

pytestmark = pytest.mark.integration


def _payment(n: int) -> Payment:
    return Payment(
        user_id=f"user-{n % 7}",
        amount=1000 + n,
        currency="usd",
        payment_method_id="pm_card_visa",
        course_id=None,
        metadata={},
        idempotency_key=f"key-{uuid.uuid4().hex}",
        key_derived=False,
        attempt=0,
        request_hash="fingerprint",
    )


@pytest.fixture
def store(postgres_url: str, tmp_path: Path) -> Iterator[EventSourcedPaymentStore]:
    env = persistence_env(postgres_url, tmp_path / "x.db", create_tables=False)
    made = EventSourcedPaymentStore.from_env(env)
    yield made
    made.close()


def test_the_store_on_postgresql_uses_the_one_trip_recorder(
    store: EventSourcedPaymentStore,
) -> None:
    assert isinstance(store.app.recorder, OneTripApplicationRecorder)
    payment = _payment(1)
    position = store.save(payment)
    assert position == store.app.recorder.max_notification_id()
    found = store.find(payment.id)
    assert found is not None and found.amount == payment.amount


def test_the_migration_makes_the_function_the_recorder_would(
    store: EventSourcedPaymentStore, postgres_url: str
) -> None:
    recorder = store.app.recorder
    assert isinstance(recorder, OneTripApplicationRecorder)
    shipped = {m.name: m.sql for m in shipped_migrations()}
    migration = shipped["0005_insert_events_function.sql"]
    with psycopg.connect(postgres_url) as conn:
        rendered = recorder.create_function_statement().as_string(conn)
    body = rendered[rendered.index("$body$") :]
    assert body in migration, "0005's function body differs from the recorder's"


def test_a_second_writer_of_one_version_conflicts(store: EventSourcedPaymentStore) -> None:
    payment = _payment(2)
    store.save(payment)
    one, two = store.find(payment.id), store.find(payment.id)
    assert one is not None and two is not None
    one.mark_failed("card_declined", None, "first")
    two.mark_failed("card_declined", None, "second")
    store.save(one)
    with pytest.raises(ConcurrencyConflict):
        store.save(two)
    stored = store.find(payment.id)
    assert stored is not None and stored.failure is not None
    assert stored.failure["message"] == "first"
    assert len(store.events_of(payment.id)) == 2


def test_the_insert_waits_for_the_table_lock(
    store: EventSourcedPaymentStore, postgres_url: str
) -> None:
    """A transaction that is writing to the table holds the insert back until it commits.

    ROW EXCLUSIVE (what any INSERT takes) does not block another INSERT, only the EXCLUSIVE
    lock that serializes the writers of the log.
    """
    recorder = store.app.recorder
    assert isinstance(recorder, OneTripApplicationRecorder)
    done = threading.Event()
    with psycopg.connect(postgres_url) as holder:
        holder.execute('LOCK TABLE "public"."payments_events" IN ROW EXCLUSIVE MODE')
        writer = threading.Thread(target=lambda: (store.save(_payment(3)), done.set()))
        writer.start()
        assert not done.wait(0.5), "the insert went ahead while another held the lock"
        holder.commit()
    writer.join(10)
    assert done.is_set()


def test_readers_of_the_log_never_pass_over_a_gap(
    store: EventSourcedPaymentStore, postgres_url: str
) -> None:
    """Eight writers save at once while a reader follows the log as a projection does."""
    writers, per_writer = 8, 40
    recorder = store.app.recorder
    stop = threading.Event()
    seen: list[int] = []
    problems: list[str] = []

    def follow() -> None:
        position = 0
        while True:
            finished = stop.is_set()
            batch = recorder.select_notifications(position, 50, inclusive_of_start=False)
            for notification in batch:
                if seen and notification.id <= seen[-1]:
                    problems.append(f"{notification.id} after {seen[-1]}")
                seen.append(notification.id)
                position = notification.id
            if finished and not batch:
                return

    def write() -> None:
        for n in range(per_writer):
            store.save(_payment(n))

    reader = threading.Thread(target=follow)
    reader.start()
    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    reader.join(30)
    with psycopg.connect(postgres_url) as conn:
        stored = [
            row[0]
            for row in conn.execute(
                'SELECT notification_id FROM "public"."payments_events" ORDER BY 1'
            )
        ]
    assert not problems
    assert len(stored) == writers * per_writer
    assert seen == stored, "the reader missed notifications that committed behind its position"

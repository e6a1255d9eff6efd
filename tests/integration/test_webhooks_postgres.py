"""Stripe events on real PostgreSQL: two workers, one effect; a failed save, no trace."""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.domain import Aggregate
from litestar.testing import TestClient

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from application.ingest_stripe_event import Outcome, ingest_stripe_event
from domain.stripe_events import StripeEventReceipt, receipt_id_for
from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.e2e.test_bad_input import assert_error
from tests.e2e.test_webhooks import URL, start_payment
from tests.stripe_fixtures import event, payment_intent, signed
from tests.unit.webhook_streams import command, pending_payment

pytestmark = pytest.mark.integration


@pytest.fixture
def stores(postgres_url: str, tmp_path: Path) -> Iterator[list[EventSourcedPaymentStore]]:
    """Two workers' event stores on one database."""
    env = persistence_env(postgres_url, tmp_path / "unused.db", pool_size=2)
    made = [EventSourcedPaymentStore.from_env(env) for _ in range(2)]
    yield made
    for store in made:
        store.close()


class MeetBeforeSaving:
    """A worker's store that waits until the other worker has read too, then saves."""

    def __init__(self, store: EventSourcedPaymentStore, barrier: threading.Barrier) -> None:
        self.store, self.barrier, self.saves = store, barrier, 0
        self.find, self.find_receipt = store.find, store.find_receipt
        self.payment_for_intent = store.payment_for_intent

    def save(self, *aggregates: Aggregate) -> int | None:
        self.saves += 1
        if self.saves == 1:
            self.barrier.wait(timeout=10)
        return self.store.save(*aggregates)


def test_two_copies_of_one_event_at_once_have_one_effect(
    stores: list[EventSourcedPaymentStore],
) -> None:
    payment = pending_payment(stores[0], "pi_concurrent")
    evt = event("payment_intent.succeeded", payment_intent("pi_concurrent", "succeeded"))
    barrier = threading.Barrier(2)
    workers = [MeetBeforeSaving(store, barrier) for store in stores]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda w: ingest_stripe_event(command(evt), store=w), workers))
    assert sorted(r.outcome for r in results) == [Outcome.APPLIED, Outcome.DUPLICATE]
    trail = [type(e).__name__ for e in stores[1].events_of(payment.id)]
    assert trail.count("Succeeded") == 1 and trail.count("StripeEventReceived") == 1
    assert len(stores[1].events_of(receipt_id_for(evt["id"]))) == 1


@pytest.fixture
def two_workers(
    base_env: dict[str, str], postgres_url: str, make_container: Callable[..., Container]
) -> Iterator[list[TestClient[Any]]]:
    env = {**base_env, "PAYMENTS_DATABASE_URL": postgres_url}
    with (
        TestClient(create_app(make_container(env), run_projections=False)) as one,
        TestClient(create_app(make_container(env), run_projections=False)) as two,
    ):
        yield [one, two]


def test_two_workers_receiving_the_same_events_over_http(
    two_workers: list[TestClient[Any]], stores: list[EventSourcedPaymentStore]
) -> None:
    made = [start_payment(two_workers[0], "concurrent-user", 1000 + n) for n in range(10)]
    events = [event("payment_intent.succeeded", payment_intent(pi, "succeeded")) for _, pi in made]
    for evt in events:
        barrier = threading.Barrier(2)

        def post(
            client: TestClient[Any], evt: dict[str, Any] = evt, b: threading.Barrier = barrier
        ) -> int:
            request = signed(evt)
            b.wait(timeout=10)
            return client.post(URL, **request).status_code

        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(post, two_workers)) == [200, 200]
    for payment_id, _ in made:
        trail = [type(e).__name__ for e in stores[0].events_of(UUID(payment_id))]
        assert trail.count("Succeeded") == 1 and trail.count("StripeEventReceived") == 1


def test_a_save_that_fails_half_way_leaves_nothing_and_answers_500(
    two_workers: list[TestClient[Any]], stores: list[EventSourcedPaymentStore], postgres_url: str
) -> None:
    client, store = two_workers[0], stores[0]
    payment_id, pi = start_payment(client, "fault-user")
    evt = event("payment_intent.succeeded", payment_intent(pi, "succeeded"))
    receipt = str(receipt_id_for(evt["id"]))
    with psycopg.connect(postgres_url, autocommit=True) as db:
        table = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%events'"
        ).fetchone()
        assert table is not None
        db.execute(f"""
            CREATE FUNCTION refuse_receipt() RETURNS trigger AS $$
            BEGIN
              IF NEW.originator_id = '{receipt}' THEN RAISE EXCEPTION 'disk full'; END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_receipt BEFORE INSERT ON {table[0]}
              FOR EACH ROW EXECUTE FUNCTION refuse_receipt();
        """)  # fmt: skip
    before = store.events_of(UUID(payment_id))
    assert_error(client.post(URL, **signed(evt)), 500, "DB_ERROR")
    assert store.events_of(UUID(payment_id)) == before
    assert store.find_receipt(evt["id"]) is None
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f"DROP TRIGGER refuse_receipt ON {table[0]}")
    assert client.post(URL, **signed(evt)).status_code == 200
    assert isinstance(store.find_receipt(evt["id"]), StripeEventReceipt)

"""The event store awaited on the event loop, on real PostgreSQL: the library's rows and rules."""

import asyncio
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse
from uuid import UUID

import psycopg
import pytest
from eventsourcing.cipher import AESCipher

from adapters.awaited_event_store import AwaitedEventStore, AwaitedPaymentStore, AwaitedWalletStore
from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.simulated_gateway import SimulatedGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.awaited import AwaitedStores, EventStoreSteps
from application.causes import caused_by, stripe_event
from application.errors import ConcurrencyConflict, StorageError
from application.ingest_stripe_event import Outcome, aingest_stripe_event
from application.process_payment import ProcessPayment, process_payment
from domain.payment import Payment
from domain.payment_status import PaymentStatus
from domain.stripe_events import StripeEventReceipt, receipt_id_for
from tests.stripe_fixtures import event, payment_intent
from tests.tcp_proxy import TcpProxy
from tests.unit.webhook_streams import command, pending_payment
from tests.wiring import pay

pytestmark = pytest.mark.integration
T = TypeVar("T")
KEY = AESCipher.create_key(32)


def new_payment(user: str = "u1", key: str = "key-1") -> Payment:
    return Payment(
        user_id=user, amount=2500, currency="usd", payment_method_id="pm_card_visa",
        course_id=None, metadata={}, idempotency_key=key, key_derived=False, attempt=0,
        request_hash="h",
    )  # fmt: skip


@pytest.fixture(params=["plain", "encrypted"])
def store(
    request: pytest.FixtureRequest, postgres_url: str, tmp_path: Path
) -> Iterator[EventSourcedPaymentStore]:
    key = KEY if request.param == "encrypted" else None
    env = persistence_env(postgres_url, tmp_path / "unused.db", encryption_key=key)
    made = EventSourcedPaymentStore.from_env(env)
    yield made
    made.close()


def awaited_stores(store: EventSourcedPaymentStore) -> AwaitedStores:
    events = AwaitedEventStore.of(store.app)
    assert events is not None, "PostgreSQL's store is awaited"
    return AwaitedStores(payments=AwaitedPaymentStore(events), wallets=AwaitedWalletStore(events))


def stored_receipt(store: EventSourcedPaymentStore, event_id: str) -> StripeEventReceipt:
    """A receipt of an event that changed no payment, saved by the threaded path."""
    receipt = StripeEventReceipt(
        event_id=event_id, event_type="charge.updated", stripe_created=1, outcome="ignored",
        payment_id=None,
    )  # fmt: skip
    store.save(receipt)
    return receipt


def run(stores: AwaitedStores, step: Coroutine[Any, Any, T]) -> T:
    """`step` on a new event loop, whose connections are closed before it ends, as a worker's."""

    async def then_close() -> T:
        try:
            return await step
        finally:
            assert isinstance(stores.payments, AwaitedPaymentStore)
            await stores.payments.events.aclose()

    return asyncio.run(then_close())


def test_what_one_path_writes_the_other_reads_alike(store: EventSourcedPaymentStore) -> None:
    stores = awaited_stores(store)
    awaited = stores.payments
    written = new_payment()

    async def through_the_loop() -> tuple[int | None, Payment | None]:
        with caused_by(stripe_event("evt_cause")):
            notification = await awaited.save(written)
        return notification, await awaited.find(written.id)

    notification, read_back = run(stores, through_the_loop())
    synced = store.find(written.id)
    assert synced is not None and read_back is not None
    assert vars(synced) == vars(read_back) == vars(written)
    assert notification == store.app.recorder.max_notification_id()
    audit = store.app.caused_mapper.decode(store.app.recorder.select_events(written.id)[0])
    assert audit[1] == {"stripe_event_id": "evt_cause"}  # the cause went in too

    synced.mark_failed("card_declined", None, "declined")
    store.save(synced)
    later = awaited_stores(store)  # another worker's loop
    again = run(later, later.payments.find(written.id))
    assert again is not None and again.status is PaymentStatus.FAILED


def test_a_version_written_twice_is_a_conflict(store: EventSourcedPaymentStore) -> None:
    stores = awaited_stores(store)
    awaited = stores.payments
    written = new_payment()
    store.save(written)

    async def two_writers() -> None:
        one, two = await awaited.find(written.id), await awaited.find(written.id)
        assert one is not None and two is not None
        one.mark_failed("a", None, "a")
        two.mark_failed("b", None, "b")
        await awaited.save(one)
        with pytest.raises(ConcurrencyConflict):
            await awaited.save(two)

    run(stores, two_writers())
    kept = store.find(written.id)
    assert kept is not None and kept.failure is not None and kept.failure["code"] == "a"


def test_a_missing_or_other_kind_of_aggregate_is_none(store: EventSourcedPaymentStore) -> None:
    stores = awaited_stores(store)
    receipt = stored_receipt(store, "evt_kept")

    async def reads() -> list[Any]:
        return [
            await stores.payments.find(UUID(int=1)),
            await stores.payments.find_receipt("evt_never"),
            await stores.payments.payment_for_intent("pi_never"),
            await stores.wallets.find("nobody"),
            await stores.wallets.find_by_customer("cus_never"),
            await stores.payments.find(receipt.id),  # there, but a receipt, not a payment
        ]

    assert run(stores, reads()) == [None] * 6
    found = run(stores, stores.payments.find_receipt("evt_kept"))
    assert found is not None and found.id == receipt.id


def test_a_charged_users_wallet_customer_and_intent_are_found(
    store: EventSourcedPaymentStore, user_id: str
) -> None:
    """What webhooks look up: the payment by its PaymentIntent, the wallet by its Customer."""
    receipt = pay(
        ProcessPayment(
            user_id=user_id, amount=1000, currency="usd", payment_method_id="pm_card_visa"
        ),
        store=store,
        gateway=SimulatedGateway(),
    )
    assert receipt.intent_id is not None
    stores = awaited_stores(store)

    async def reads() -> tuple[Any, Any, Any]:
        wallet = await stores.wallets.find(user_id)
        assert wallet is not None and wallet.customer_id is not None
        by_customer = await stores.wallets.find_by_customer(wallet.customer_id)
        assert receipt.intent_id is not None
        return wallet, by_customer, await stores.payments.payment_for_intent(receipt.intent_id)

    wallet, by_customer, owner = run(stores, reads())
    assert by_customer is not None and by_customer.id == wallet.id
    assert owner == UUID(receipt.payment_id)


def test_many_charges_at_once_each_charge_once(
    store: EventSourcedPaymentStore, user_id: str
) -> None:
    """Forty charges on one event loop, the same eight keys five times: eight payments."""
    gateway = SimulatedGateway()
    wallets = EventSourcedWalletStore(store.app)
    stores = awaited_stores(store)
    steps = EventStoreSteps(store=store, wallets=wallets, awaited=stores)

    async def charge(n: int) -> str:
        cmd = ProcessPayment(
            user_id=user_id, amount=1000 + n % 8, currency="usd",
            payment_method_id="pm_card_visa", idempotency_key=f"key-{n % 8}",
        )  # fmt: skip
        receipt = await process_payment(
            cmd, store=store, gateway=gateway, wallets=wallets, steps=steps
        )
        return receipt.payment_id

    async def all_at_once() -> list[str]:
        return await asyncio.gather(*(charge(n) for n in range(40)))

    ids = run(stores, all_at_once())
    assert len(set(ids)) == 8
    # Requests racing on one key may each ask Stripe, always with the payment's own Stripe
    # idempotency key: one PaymentIntent a payment (the HTTP layer's claim lets one through).
    assert len({call.idempotency_key for call in gateway.charge_calls}) == 8
    intents = set()
    for payment_id in set(ids):
        payment = store.find(UUID(payment_id))
        assert payment is not None and payment.status is PaymentStatus.SUCCEEDED
        intents.add(payment.intent_id)
    assert len(intents) == 8


def test_copies_of_one_event_at_once_have_one_effect(store: EventSourcedPaymentStore) -> None:
    payment = pending_payment(store, "pi_awaited")
    evt = event("payment_intent.succeeded", payment_intent("pi_awaited", "succeeded"))
    stores = awaited_stores(store)

    async def copies() -> list[Outcome]:
        results = await asyncio.gather(
            *(aingest_stripe_event(command(evt), stores.payments) for _ in range(10))
        )
        return sorted(result.outcome for result in results)

    assert run(stores, copies()) == [Outcome.APPLIED] + [Outcome.DUPLICATE] * 9
    trail = [type(e).__name__ for e in store.events_of(payment.id)]
    assert trail.count("Succeeded") == 1 and trail.count("StripeEventReceived") == 1
    assert len(store.events_of(receipt_id_for(evt["id"]))) == 1


def test_saves_at_once_share_commits(store: EventSourcedPaymentStore, postgres_url: str) -> None:
    stores = awaited_stores(store)
    fresh = [new_payment(user=f"u{n}", key=f"key-{n}") for n in range(30)]

    async def all_at_once() -> list[int | None]:
        return await asyncio.gather(*(stores.payments.save(payment) for payment in fresh))

    last_ids = run(stores, all_at_once())
    assert len(set(last_ids)) == len(fresh)  # each save its own notification id
    for payment, last_id in zip(fresh, last_ids, strict=True):
        assert store.find(payment.id) is not None
        (stored,) = store.app.recorder.select_notifications(last_id or 0, 1)
        assert stored.originator_id == payment.id  # the id a save answers is its own event's
    with psycopg.connect(postgres_url) as conn:
        commits = conn.execute(
            "SELECT count(DISTINCT xmin::text) FROM payments_events WHERE originator_id = ANY(%s)",
            ([payment.id for payment in fresh],),
        ).fetchone()
    assert commits is not None and commits[0] < len(fresh)  # saves shared transactions


def test_reads_at_once_each_get_their_own_aggregate(store: EventSourcedPaymentStore) -> None:
    stores = awaited_stores(store)
    written = [new_payment(user=f"u{n}", key=f"key-{n}") for n in range(30)]
    for payment in written[::2]:
        payment.mark_failed(f"code-{payment.user_id}", None, "declined")
    store.save(*written)
    receipt = stored_receipt(store, "evt_read")

    async def all_at_once() -> list[Any]:
        ids = [payment.id for payment in written] + [UUID(int=7), receipt.id]
        return await asyncio.gather(*(stores.payments.find(i) for i in ids))

    *found, missing, not_a_payment = run(stores, all_at_once())
    assert missing is None and not_a_payment is None
    for payment, read in zip(written, found, strict=True):
        assert read is not None and read.id == payment.id and read.version == payment.version
        assert read.user_id == payment.user_id and read.status is payment.status
        assert read.failure == payment.failure


def test_of_saves_at_once_only_the_one_that_collided_is_refused(
    store: EventSourcedPaymentStore,
) -> None:
    stores = awaited_stores(store)
    taken = new_payment(key="taken")
    store.save(taken)
    fresh = [new_payment(user=f"u{n}", key=f"key-{n}") for n in range(10)]

    async def all_at_once() -> list[Any]:
        stale = await stores.payments.find(taken.id)
        current = store.find(taken.id)
        assert stale is not None and current is not None
        current.mark_failed("first", None, "first")
        store.save(current)  # another writer takes the next version
        stale.mark_failed("second", None, "second")
        saves = [stores.payments.save(payment) for payment in fresh]
        saves.insert(5, stores.payments.save(stale))
        return await asyncio.gather(*saves, return_exceptions=True)

    answers = run(stores, all_at_once())
    assert isinstance(answers.pop(5), ConcurrencyConflict)
    assert all(isinstance(answer, int) for answer in answers), answers
    for payment in fresh:
        assert store.find(payment.id) is not None
    kept = store.find(taken.id)
    assert kept is not None and kept.failure is not None and kept.failure["code"] == "first"


@pytest.fixture
def proxied(
    postgres_url: str, tmp_path: Path
) -> Iterator[tuple[EventSourcedPaymentStore, TcpProxy]]:
    url = urlparse(postgres_url)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 5432)
    through = url._replace(netloc=f"postgres@127.0.0.1:{proxy.port}").geturl()
    made = EventSourcedPaymentStore.from_env(persistence_env(through, tmp_path / "unused.db"))
    yield made, proxy
    made.close()
    proxy.close()


@pytest.mark.parametrize("outage", ["refuse", "silence"])
def test_with_postgresql_unreachable_calls_fail_fast(
    proxied: tuple[EventSourcedPaymentStore, TcpProxy], outage: str
) -> None:
    store, proxy = proxied
    stores = awaited_stores(store)
    payments = stores.payments
    written = new_payment()

    async def during_outage() -> list[float]:
        await payments.save(written)  # the pool is open and has a connection
        getattr(proxy, outage)()
        took = []
        for _ in range(3):  # the first finds the outage, the next know of it
            started = time.monotonic()
            with pytest.raises(StorageError):
                await payments.find(written.id)
            took.append(time.monotonic() - started)
        return took

    took = run(stores, during_outage())
    assert max(took) < 3.0, took
    assert took[1] < 0.5 and took[2] < 0.5, took  # no second wait within the recheck window

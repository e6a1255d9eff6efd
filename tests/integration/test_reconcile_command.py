"""`payment-service reconcile` against a loopback Stripe, on SQLite and PostgreSQL."""

import asyncio
import base64
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.clock import SystemClock
from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.pending_scan import EventLogPendingPayments
from adapters.stripe_gateway import StripeGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.errors import GatewayError
from application.process_payment import ProcessPayment, process_payment
from application.reconcile import SHORTEST_OLDER_THAN, ReconcileReport, reconcile
from domain.payment import Payment
from domain.payment_status import PaymentStatus, payment_id_for
from entrypoints import cli
from entrypoints.container import Container
from tests.cli_process import cli_in_process
from tests.fake_stripe import FakeStripe, Reply

pytestmark = pytest.mark.integration


@pytest.fixture
def stripe_env(backend_env: dict[str, str], fake_stripe: FakeStripe) -> dict[str, str]:
    return {
        **backend_env,
        "STRIPE_SECRET_KEY": "sk_test_reconcile_0123456789",
        "STRIPE_API_BASE": fake_stripe.url,
        "STRIPE_READ_TIMEOUT": "1",
        "STRIPE_MAX_NETWORK_RETRIES": "0",
    }


def lose_a_charge(container: Container, fake: FakeStripe) -> Payment:
    """A charge Stripe made whose answer never came back."""
    fake.reply("POST", "/v1/payment_intents", Reply(delay=3.0))
    cmd = ProcessPayment(
        user_id="u1", amount=4200, currency="eur", payment_method_id="pm_card_visa",
        idempotency_key="order-7",
    )  # fmt: skip
    with pytest.raises(GatewayError):
        asyncio.run(
            process_payment(
                cmd,
                store=container.payment_store(),
                gateway=container.gateway(),
                wallets=container.wallets(),
            )
        )
    payment = container.payment_store().find(payment_id_for("u1", "order-7"))
    assert payment is not None and payment.status is PaymentStatus.PENDING
    return payment


@pytest.fixture
def lost_for_cli(
    stripe_env: dict[str, str],
    fake_stripe: FakeStripe,
    make_container: Callable[[dict[str, str]], Container],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> tuple[Container, Payment]:
    """A charge whose answer was lost, and the environment the command runs in."""
    container = make_container(stripe_env)
    payment = lose_a_charge(container, fake_stripe)
    cli_in_process(monkeypatch, stripe_env, tmp_path)
    return container, payment


def test_the_command_prints_what_it_settled(
    lost_for_cli: tuple[Container, Payment],
    fake_stripe: FakeStripe,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    container, payment = lost_for_cli
    later = payment.modified_on + SHORTEST_OLDER_THAN
    monkeypatch.setattr(SystemClock, "now", lambda self: later)

    assert cli.main(["reconcile", "--older-than", "5m"]) == 0  # the shortest window allowed
    assert cli.main(["reconcile"]) == 0

    first, second = capsys.readouterr().out.split("0 without an answer from Stripe\n")[:2]
    assert f"settled {payment.id}: pending -> succeeded" in first
    assert "1 settled, 0 still waiting at Stripe" in first
    assert second.strip().startswith("0 settled")
    settled = container.payment_store().find(payment.id)
    assert settled is not None and settled.status is PaymentStatus.SUCCEEDED
    assert len(fake_stripe.intents) == 1


def test_a_bad_duration_is_refused_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["reconcile", "--older-than", "soon"])
    assert exited.value.code == 2
    assert "'soon' is not a duration" in capsys.readouterr().err


@pytest.mark.parametrize("window", ["0s", "299s"])
def test_a_window_shorter_than_a_charge_can_be_in_flight_is_refused(
    window: str,
    lost_for_cli: tuple[Container, Payment],
    fake_stripe: FakeStripe,
    capsys: pytest.CaptureFixture[str],
) -> None:
    container, payment = lost_for_cli
    asked = len(fake_stripe.seen)

    with pytest.raises(SystemExit) as exited:
        cli.main(["reconcile", "--older-than", window])

    assert exited.value.code == 2
    assert f"'{window}' is shorter than 5m" in capsys.readouterr().err
    assert len(fake_stripe.seen) == asked
    after = container.payment_store().find(payment.id)
    assert after is not None and after.version == payment.version
    assert after.status is PaymentStatus.PENDING


class Machine:
    """One host running the service: its own pool to the shared database, its own client."""

    def __init__(self, database_url: str, tmp_path: Path, stripe_url: str) -> None:
        env = persistence_env(database_url, tmp_path / "unused.db", pool_size=2)
        self.store = EventSourcedPaymentStore.from_env(env)
        self.wallets = EventSourcedWalletStore(self.store.app)
        self.pending = EventLogPendingPayments(self.store.app)
        self.gateway = StripeGateway(
            "sk_test_reconcile_0123456789", api_base=stripe_url, max_network_retries=0
        )

    def reconcile(self) -> ReconcileReport:
        return asyncio.run(
            reconcile(
                older_than=SHORTEST_OLDER_THAN,
                now=datetime.now(UTC) + SHORTEST_OLDER_THAN,
                pending=self.pending,
                store=self.store,
                wallets=self.wallets,
                gateway=self.gateway,
            )
        )


def test_runs_on_several_machines_at_once_record_each_fact_once(
    postgres_url: str, fake_stripe: FakeStripe, tmp_path: Path
) -> None:
    machines = [Machine(postgres_url, tmp_path, fake_stripe.url) for _ in range(3)]
    lost = machines[0]
    fake_stripe.reply("POST", "/v1/payment_intents", Reply(delay=3.0))
    lost.gateway = StripeGateway(
        "sk_test_reconcile_0123456789",
        api_base=fake_stripe.url,
        read_timeout=1.0,
        max_network_retries=0,
    )
    cmd = ProcessPayment(
        user_id="u1", amount=4200, currency="eur", payment_method_id="pm_card_visa",
        idempotency_key="order-7",
    )  # fmt: skip
    with pytest.raises(GatewayError):
        asyncio.run(
            process_payment(cmd, store=lost.store, gateway=lost.gateway, wallets=lost.wallets)
        )
    start = threading.Barrier(len(machines))
    reports: list[ReconcileReport] = []

    def run(machine: Machine) -> None:
        start.wait()
        reports.append(machine.reconcile())

    threads = [threading.Thread(target=run, args=(m,)) for m in machines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    payment_id = payment_id_for("u1", "order-7")
    events = machines[1].store.events_of(payment_id)
    for machine in machines:
        machine.store.close()

    assert len(reports) == 3
    assert sum(len(r.settled) for r in reports) == 1
    assert [type(e).__name__ for e in events] == ["Initiated", "IntentCreated", "Succeeded"]
    assert len(fake_stripe.intents) == 1


def test_without_stripe_there_is_nothing_to_ask(
    base_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    cli_in_process(monkeypatch, base_env, tmp_path)
    assert cli.main(["reconcile"]) == 2
    assert "reconcile needs STRIPE_SECRET_KEY" in capsys.readouterr().err


def test_a_key_that_does_not_read_the_events_is_refused_with_one_line_and_settles_nothing(
    lost_for_cli: tuple[Container, Payment],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    container, payment = lost_for_cli
    monkeypatch.setattr(SystemClock, "now", lambda self: payment.modified_on + SHORTEST_OLDER_THAN)
    monkeypatch.setenv("PAYMENTS_ENCRYPTION_KEY", base64.b64encode(bytes(range(32))).decode())

    assert cli.main(["reconcile"]) == 2

    err = capsys.readouterr().err.strip()
    assert err.startswith("configuration error: PAYMENTS_ENCRYPTION_KEY") and "\n" not in err
    still = container.payment_store().find(payment.id)
    assert still is not None and still.status is PaymentStatus.PENDING

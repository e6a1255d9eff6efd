"""A worker SIGKILLed while both serve charges against Stripe: nothing acknowledged is lost,
nothing is charged twice, and every retry with its key settles its payment. Once with a few
clients, once with 1,024 against Stripe's latency, past what the workers admit."""

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from bench.loadgen import build_request, read_response
from bench.servers import client_connections, listening_sockets, running
from bench.stripe_workload import standin_command

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from domain.payment_status import PaymentStatus, payment_id_for
from tests.cli_process import COMMAND, cli_env, free_port, worker_pids
from tests.conftest import bearer, eventually
from tests.fake_stripe import FakeStripe

pytestmark = [pytest.mark.integration, pytest.mark.slow]
VISA = {"amount": 3100, "currency": "usd", "paymentMethodId": "pm_card_visa"}
CLIENTS, CHARGES_PER_CLIENT = 24, 6
# The storm: as many clients as the Stripe workload's largest, each started over one latency.
STORM_CLIENTS, STORM_CHARGES, STORM_RAMP, STRIPE_LATENCY = 1024, 3, 0.3, 0.3
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def serving_two_workers(
    tmp_path: Path, base_env: dict[str, str], postgres_url: str, redis_server_url: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], FakeStripe]]:
    stripe = FakeStripe(latency=0.2).start()
    try:
        with _two_workers(tmp_path, base_env, postgres_url, redis_server_url, stripe.url) as (
            url,
            process,
        ):
            yield url, process, stripe
    finally:
        stripe.stop()


@pytest.fixture
def serving_two_workers_at_stripes_latency(
    tmp_path: Path, base_env: dict[str, str], postgres_url: str, redis_server_url: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], str]]:
    """Two workers in front of the loopback Stripe stand-in that answers after 300 ms."""
    with running(standin_command(STRIPE_LATENCY), {}, "/health", ROOT) as standin:
        stripe_url = f"http://127.0.0.1:{standin.port}"
        with _two_workers(tmp_path, base_env, postgres_url, redis_server_url, stripe_url) as (
            url,
            process,
        ):
            yield url, process, stripe_url


@contextmanager
def _two_workers(
    tmp_path: Path, base_env: dict[str, str], postgres_url: str, redis_url: str, stripe_url: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {
        **base_env,
        "PAYMENTS_DATABASE_URL": postgres_url,
        "PAYMENTS_REDIS_URL": redis_url,
        "STRIPE_SECRET_KEY": "sk_test_killed_worker_0123456789",
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_MAX_NETWORK_RETRIES": "2",
    }
    with open(tmp_path / "serve.log", "wb") as log:
        process = subprocess.Popen(
            [COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=cli_env(env), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            up = eventually(lambda: _live(url), timeout=30)
            assert up, (tmp_path / "serve.log").read_text()[-2000:]
            # a worker listens once its application has started: until both do, every new
            # connection (and a kept-alive one stays) goes to the first
            assert eventually(lambda: listening_sockets(port) == 2, timeout=30)
            assert len(worker_pids(process)) == 2
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=30)


def _run_id() -> str:
    """This run's part of its users' names (and of the storm's keys): Redis outlives the
    database, so each run keeps to its own. A letter first: in an id of digits only, the
    storm's keys from the 1,000th client on joined into one run of 13 digits
    (`storm-60254086-1011-2`), which the service refuses as a card number when it passes Luhn,
    as one in ten does."""
    return f"r{uuid.uuid4().hex[:8]}"


def _live(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/live", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_worker_killed_under_load_loses_no_acknowledged_charge_and_charges_none_twice(
    serving_two_workers: tuple[str, subprocess.Popen[bytes], FakeStripe],
    postgres_url: str,
    tmp_path: Path,
) -> None:
    url, master, stripe = serving_two_workers
    run = _run_id()
    acknowledged: dict[UUID, str] = {}
    unanswered: list[tuple[str, str]] = []
    lock = threading.Lock()
    kill_after = threading.Event()

    def client(n: int) -> None:
        user = f"load-user-{run}-{n}"
        # a new connection per request: the workers share the load, so both have charges in
        # flight when one is killed (a kept-alive connection stays with the worker it met)
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=url, timeout=30, limits=fresh) as http:
            for i in range(CHARGES_PER_CLIENT):
                key = f"order-{n}-{i}"
                try:
                    answer = http.post(
                        "/api/payments/process",
                        json=VISA,
                        headers={**bearer(user), "Idempotency-Key": key},
                    )
                except httpx.TransportError:  # the worker died under this request
                    with lock:
                        unanswered.append((user, key))
                    continue
                if answer.status_code == 201:
                    with lock:
                        acknowledged[UUID(answer.json()["paymentId"])] = answer.json()["status"]
                        if len(acknowledged) >= CLIENTS:
                            kill_after.set()
                else:
                    with lock:
                        unanswered.append((user, key))

    with ThreadPoolExecutor(CLIENTS) as pool:
        for n in range(CLIENTS):
            pool.submit(client, n)
        assert kill_after.wait(timeout=60), "the load did not get going"
        victim = worker_pids(master)[0]
        os.kill(victim, signal.SIGKILL)

    assert unanswered, "the kill cut requests in flight"
    _nothing_lost_and_none_charged_twice(
        url, postgres_url, tmp_path, acknowledged, unanswered,
        users=[f"load-user-{run}-{n}" for n in range(CLIENTS)],
        expected=CLIENTS * CHARGES_PER_CLIENT,
        stripes_intents=lambda: list(stripe.intents.values()),
    )  # fmt: skip


def test_a_worker_killed_under_a_storm_of_1024_clients_loses_nothing_and_charges_none_twice(
    serving_two_workers_at_stripes_latency: tuple[str, subprocess.Popen[bytes], str],
    postgres_url: str,
    tmp_path: Path,
) -> None:
    """1,024 clients, Stripe at 300 ms: far more than the workers admit, so many are refused
    and come back after their Retry-After. One worker is SIGKILLed once a third of the charges
    are acknowledged. Every acknowledged charge is in the event store and in history; a client
    cut off retries with its key and gets its payment; Stripe made one PaymentIntent a payment."""
    url, master, stripe_url = serving_two_workers_at_stripes_latency
    run = _run_id()
    port = int(url.rsplit(":", 1)[1])
    held: dict[int, int] = {}

    def kill_the_busier_worker() -> None:
        # the one holding more clients' connections is killed: the kill cuts the most
        held.update({pid: client_connections(pid, port) for pid in worker_pids(master)})
        os.kill(max(held, key=held.__getitem__), signal.SIGKILL)

    storm = asyncio.run(_storm(url, run, kill_the_busier_worker))

    assert storm.killed, "the load did not get going"
    assert min(held.values()) > 0, f"both workers took clients: {held}"
    assert storm.statuses[503] > 0, "the storm never went past what the workers admit"
    assert set(storm.statuses) <= {201, 503}, (storm.statuses, storm.unexpected[:5])
    assert storm.unanswered, "the kill cut requests in flight"
    _nothing_lost_and_none_charged_twice(
        url, postgres_url, tmp_path, storm.acknowledged, storm.unanswered,
        users=[_storm_user(run, n) for n in range(STORM_CLIENTS)],
        expected=STORM_CLIENTS * STORM_CHARGES,
        stripes_intents=lambda: httpx.get(f"{stripe_url}/v1/payment_intents", timeout=30).json()[
            "data"
        ],
    )  # fmt: skip


def _nothing_lost_and_none_charged_twice(
    url: str,
    postgres_url: str,
    tmp_path: Path,
    acknowledged: dict[UUID, str],
    unanswered: list[tuple[str, str]],
    *,
    users: list[str],
    expected: int,
    stripes_intents: Callable[[], list[dict[str, Any]]],
) -> None:
    """After the kill: every acknowledged charge succeeded in the event store; every client cut
    off gets its payment by retrying with its key, as the contract says; the users' histories
    list exactly those payments, `expected` of them; Stripe holds one PaymentIntent each."""
    charged = {str(p) for p in acknowledged} | {str(payment_id_for(u, k)) for u, k in unanswered}
    assert len(charged) == expected
    store = EventSourcedPaymentStore.from_env(persistence_env(postgres_url, tmp_path / "x.db"))
    try:
        for payment_id, status in acknowledged.items():
            payment = store.find(payment_id)
            assert payment is not None and payment.status.value == status == "succeeded"

        answers = asyncio.run(_retry_all_until_answered(url, unanswered))
        for (user, key), (status_code, body) in zip(unanswered, answers, strict=True):
            assert status_code == 201, body
            assert json.loads(body)["paymentId"] == str(payment_id_for(user, key))
            payment = store.find(payment_id_for(user, key))
            assert payment is not None and payment.status is PaymentStatus.SUCCEEDED
    finally:
        store.close()

    assert eventually(lambda: asyncio.run(_histories(url, users)) == charged, timeout=30)

    per_payment = Counter(intent["metadata"]["payment_id"] for intent in stripes_intents())
    assert per_payment and max(per_payment.values()) == 1, "no payment was charged twice"
    assert set(per_payment) == charged


@dataclass
class Storm:
    acknowledged: dict[UUID, str] = field(default_factory=dict)
    unanswered: list[tuple[str, str]] = field(default_factory=list)  # (user, key): cut off
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[tuple[str, int, bytes]] = field(default_factory=list)  # key, status, body
    killed: bool = False


def _storm_user(run: str, n: int) -> str:
    return f"storm-user-{run}-{n}"


async def _storm(url: str, run: str, kill: Callable[[], None]) -> Storm:
    """Each client on a connection of its own, started over STORM_RAMP: its charges one after
    another, each retried with its key after the Retry-After of a 503; a charge whose connection
    is cut is left for the retries after the storm, and the client goes on on a new connection.
    `kill` is called once, when a third of the charges are acknowledged."""
    storm = Storm()
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(VISA).encode()

    async def client(n: int) -> None:
        await asyncio.sleep(STORM_RAMP * n / STORM_CLIENTS)
        user = _storm_user(run, n)
        token = bearer(user)["Authorization"]
        reader, writer = await _connect(host, int(port))
        try:
            for i in range(STORM_CHARGES):
                key = f"storm-{run}-{n}-{i}"
                headers = {"Authorization": token, "Idempotency-Key": key,
                           "Content-Type": "application/json"}  # fmt: skip
                request = build_request("POST", "/api/payments/process", headers, body)
                status, payload = 0, b""  # no answer yet
                while True:
                    try:
                        writer.write(request)
                        status, retry_after, payload = await read_response(reader)
                    except (ConnectionError, asyncio.IncompleteReadError):
                        storm.unanswered.append((user, key))
                        writer.close()
                        reader, writer = await _connect(host, int(port))
                        break
                    storm.statuses[status] += 1
                    if status not in (201, 503):
                        storm.unexpected.append((key, status, payload))
                    if status != 503:
                        break
                    await asyncio.sleep(1.0 if retry_after is None else retry_after)
                if status == 201:
                    answer = json.loads(payload)
                    storm.acknowledged[UUID(answer["paymentId"])] = answer["status"]
                    if not storm.killed and len(storm.acknowledged) >= STORM_CLIENTS:
                        storm.killed = True
                        kill()
        finally:
            writer.close()

    await asyncio.gather(*(client(n) for n in range(STORM_CLIENTS)))
    return storm


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A new connection, tried again while the kernel still hands connections to the worker
    that was killed (its queue of unaccepted ones is reset when it is gone)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return await asyncio.open_connection(host, port)
        except ConnectionError:
            assert time.monotonic() < deadline, "no worker took the connection"
            await asyncio.sleep(0.1)


async def _retry_all_until_answered(
    url: str, cut_off: list[tuple[str, str]]
) -> list[tuple[int, str]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def retry(user: str, key: str) -> tuple[int, str]:
            headers = {**bearer(user), "Idempotency-Key": key}
            deadline = time.monotonic() + 90  # the dead worker's key lock expires within 60 s
            while True:
                try:
                    answer = await http.post("/api/payments/process", json=VISA, headers=headers)
                except httpx.TransportError:
                    answer = None
                if answer is not None and answer.status_code not in (409, 503):
                    return answer.status_code, answer.text
                assert time.monotonic() < deadline, "the retry never got an answer"
                await asyncio.sleep(0.5)

        return await asyncio.gather(*(retry(user, key) for user, key in cut_off))


async def _histories(url: str, users: list[str]) -> set[str]:
    """Every payment id the users' histories list."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        gate = asyncio.Semaphore(32)

        async def listed(user: str) -> set[str]:
            async with gate:
                answer = await http.get("/api/payments/history?limit=100", headers=bearer(user))
            return {row["id"] for row in answer.json()["payments"]}

        return set().union(*await asyncio.gather(*(listed(user) for user in users)))

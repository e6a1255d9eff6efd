"""Admission control and deadlines: a worker runs a bounded number of charges, each in time."""

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from adapters.simulated_gateway import SimulatedGateway
from application.ports import ChargeOutcome, ChargeRequest
from domain.payment_status import PaymentStatus, payment_id_for
from entrypoints.container import Container
from entrypoints.http.admission import LAG_FLOOR
from entrypoints.http.app import create_app
from entrypoints.http.serving_protocol import admission_of, uvicorn_options
from tests.conftest import bearer, eventually
from tests.live_server import serving

VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa"}


class HeldGateway(SimulatedGateway):
    """Stripe that answers charges only when the test lets it, or after `delay` seconds."""

    def __init__(self, delay: float = 60.0, customer_delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.customer_delay = customer_delay
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    async def create_customer(self, user_id: str, idempotency_key: str) -> str:
        await asyncio.sleep(self.customer_delay)
        return await super().create_customer(user_id, idempotency_key)

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        self.started.release()
        until = time.monotonic() + self.delay
        while not self.release.is_set() and time.monotonic() < until:
            await asyncio.sleep(0.01)
        return await super().charge(request)


class BusyGateway(HeldGateway):
    """Stripe whose charges, until released, keep the worker's event loop busy: 30 ms of CPU
    work at a time, as a worker past its capacity has."""

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        self.started.release()
        while not self.release.is_set():
            time.sleep(0.03)
            await asyncio.sleep(0)
        return await SimulatedGateway.charge(self, request)


@pytest.fixture
def serve(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> Iterator[Callable[..., tuple[str, Container]]]:
    stops: list[Any] = []

    def start(
        gateway: SimulatedGateway, *, as_served: bool = False, **env: str
    ) -> tuple[str, Container]:
        """`as_served`: with the HTTP protocol `serve` runs, which refuses on arrival."""
        container = make_container({**base_env, **env})
        container.gateway.override(providers.Object(gateway))
        options = uvicorn_options() if as_served else {}
        server = serving(create_app(container, run_projections=False), **options)
        stops.append(server)
        return server.__enter__(), container

    yield start
    for server in stops:
        server.__exit__(None, None, None)


def post(url: str, user: str, key: str) -> httpx.Response:
    headers = {**bearer(user), "Idempotency-Key": key}
    return httpx.post(f"{url}/api/payments/process", json=VISA, headers=headers, timeout=30)


def shed_count(url: str) -> float:
    metrics = httpx.get(f"{url}/metrics").text
    lines = [
        x for x in metrics.splitlines() if x.startswith('requests_shed_total{route="process"}')
    ]
    return float(lines[0].split()[-1]) if lines else 0.0


@pytest.mark.parametrize("as_served", [False, True], ids=["middleware", "serve-protocol"])
def test_beyond_its_bound_a_charge_is_refused_at_once_and_nothing_is_stored_or_sent(
    serve: Callable[..., tuple[str, Container]], user_id: str, as_served: bool
) -> None:
    gateway = HeldGateway()
    url, container = serve(gateway, as_served=as_served, PAYMENTS_MAX_IN_FLIGHT="2")
    shed_before = shed_count(url)
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(post, url, user_id, f"held-{n}") for n in range(2)]
        for _ in range(2):
            assert gateway.started.acquire(timeout=10)
        sent = time.monotonic()
        refused = post(url, user_id, "one-too-many")
        answered_in = time.monotonic() - sent
        gateway.release.set()
        assert [f.result().status_code for f in held] == [201, 201]

    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert int(refused.headers["Retry-After"]) >= 1
    assert answered_in < 2.0, "refused at once, not queued"
    assert container.payment_store().find(payment_id_for(user_id, "one-too-many")) is None
    assert len(gateway.charge_calls) == 2
    assert shed_count(url) == shed_before + 1
    assert post(url, user_id, "one-too-many").status_code == 201, "admitted once there is room"


def test_a_charge_not_started_by_its_deadline_is_not_started(
    serve: Callable[..., tuple[str, Container]], user_id: str
) -> None:
    gateway = HeldGateway(delay=0.0, customer_delay=1.5)
    url, container = serve(gateway, PAYMENTS_REQUEST_TIMEOUT="1")
    late = post(url, user_id, "order-late")
    assert late.status_code == 503, late.text
    assert late.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    time.sleep(1.0)  # whatever was still running has ended by now
    assert gateway.charge_calls == []
    payment = container.payment_store().find(payment_id_for(user_id, "order-late"))
    assert payment is not None and payment.status is PaymentStatus.PENDING

    gateway.customer_delay = 0.0
    retried = post(url, user_id, "order-late")
    assert retried.status_code == 201 and retried.json()["status"] == "succeeded"
    assert len(gateway.charge_calls) == 1


def test_a_charge_started_before_its_deadline_is_recorded_and_the_retry_gets_its_answer(
    serve: Callable[..., tuple[str, Container]], user_id: str
) -> None:
    gateway = HeldGateway(delay=2.0)
    url, container = serve(gateway, PAYMENTS_REQUEST_TIMEOUT="1")
    sent = time.monotonic()
    late = post(url, user_id, "order-slow")
    assert late.status_code == 503, late.text
    assert time.monotonic() - sent < 1.9, "answered at the deadline, not when Stripe answered"
    payment_id = payment_id_for(user_id, "order-slow")

    def succeeded() -> bool:
        payment = container.payment_store().find(payment_id)
        return payment is not None and payment.status is PaymentStatus.SUCCEEDED

    assert eventually(succeeded, timeout=10), "Stripe's answer was recorded after the client left"
    retried = post(url, user_id, "order-slow")
    assert retried.status_code == 201, retried.text
    assert retried.json()["paymentId"] == str(payment_id)
    assert retried.json()["status"] == "succeeded"
    assert len(gateway.charge_calls) == 1


@pytest.mark.parametrize("as_served", [False, True], ids=["middleware", "serve-protocol"])
def test_at_capacity_a_charge_is_refused_before_it_is_authenticated_or_read(
    serve: Callable[..., tuple[str, Container]], user_id: str, as_served: bool
) -> None:
    gateway = HeldGateway()
    url, _ = serve(gateway, as_served=as_served, PAYMENTS_MAX_IN_FLIGHT="1")
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(post, url, user_id, "held")
        assert gateway.started.acquire(timeout=10)
        unauthenticated = httpx.post(
            f"{url}/api/payments/process", content=b"{not json", timeout=30
        )
        other_route = httpx.get(f"{url}/api/payments/history", headers=bearer(user_id))
        gateway.release.set()
        assert held.result().status_code == 201

    assert unauthenticated.status_code == 503, unauthenticated.text
    assert unauthenticated.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert unauthenticated.headers["Retry-After"] in {"1", "2", "3"}
    assert other_route.status_code == 200, "only charges and refunds are bounded"
    assert len(gateway.charge_calls) == 1
    assert post(url, user_id, "after").status_code == 201, "admitted again once below the bound"


def test_while_the_worker_runs_late_it_admits_fewer_charges_and_refuses_the_rest_at_once(
    serve: Callable[..., tuple[str, Container]], user_id: str
) -> None:
    gateway = BusyGateway()
    # on time, 12 may run at once; a worker late for half a second admits only the first 8
    url, container = serve(gateway, PAYMENTS_MAX_IN_FLIGHT="12", PAYMENTS_MAX_LOOP_LAG_MS="25")
    shed_before = shed_count(url)
    with ThreadPoolExecutor(LAG_FLOOR) as pool:
        held = [pool.submit(post, url, user_id, f"held-{n}") for n in range(LAG_FLOOR)]
        for _ in range(LAG_FLOOR):
            assert gateway.started.acquire(timeout=10)
        time.sleep(1.0)  # the loop has been late for a while
        refused = post(url, user_id, "while-late")
        live = httpx.get(f"{url}/health/live", timeout=5)
        gateway.release.set()
        assert [f.result().status_code for f in held] == [201] * LAG_FLOOR

    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert refused.headers["Retry-After"] in {"1", "2", "3"}
    assert live.status_code == 200
    assert container.payment_store().find(payment_id_for(user_id, "while-late")) is None
    assert len(gateway.charge_calls) == LAG_FLOOR, "nothing more was sent to Stripe"
    assert shed_count(url) == shed_before + 1
    assert eventually(lambda: post(url, user_id, "while-late").status_code == 201, timeout=5), (
        "admitted again once the loop is on time"
    )


def test_served_a_refused_charge_is_answered_before_its_body_and_the_connection_serves_on(
    serve: Callable[..., tuple[str, Container]], user_id: str
) -> None:
    gateway = HeldGateway()
    url, container = serve(gateway, as_served=True, PAYMENTS_MAX_IN_FLIGHT="1")
    body = json.dumps({**VISA, "metadata": {"note": "x" * 400}}).encode()
    head = (
        f"POST /api/payments/process HTTP/1.1\r\nHost: x\r\nAuthorization: "
        f"{bearer(user_id)['Authorization']}\r\nContent-Type: application/json\r\n"
        f"Idempotency-Key: on-one-connection\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    port = int(url.rsplit(":", 1)[1])
    with ThreadPoolExecutor(1) as pool, socket.create_connection(("127.0.0.1", port)) as conn:
        held = pool.submit(post, url, user_id, "held")
        assert gateway.started.acquire(timeout=10)
        reader = conn.makefile("rb")
        conn.sendall(head + body[:10])  # the body's first bytes only
        status, headers, answer = read_response(reader)
        assert status == 503, answer
        assert headers["retry-after"] in {"1", "2", "3"}
        assert json.loads(answer)["error"]["code"] == "SERVICE_UNAVAILABLE"

        conn.sendall(body[10:] + b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(reader)[0] == 200, "the dropped body left the connection usable"
        gateway.release.set()
        assert held.result().status_code == 201
        conn.sendall(head + body)
        status, _, answer = read_response(reader)
        assert status == 201, answer

    payment = container.payment_store().find(payment_id_for(user_id, "on-one-connection"))
    assert payment is not None and payment.status is PaymentStatus.SUCCEEDED
    assert len(gateway.charge_calls) == 2


def read_response(reader: Any) -> tuple[int, dict[str, str], bytes]:
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, reader.read(int(headers["content-length"]))


def test_the_service_app_hands_its_admission_to_the_protocol_serve_runs(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    app = create_app(make_container({**base_env, "PAYMENTS_MAX_IN_FLIGHT": "7"}))
    admission = admission_of(app)
    assert admission is not None and admission.limit == 7

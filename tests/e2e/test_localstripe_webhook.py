"""localstripe itself delivers payment_intent.succeeded to the running service over HTTP."""

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import stripe
import uvicorn

from adapters.simulated_gateway import SimulatedGateway
from application.ports import (
    ChargeOutcome,
    ChargeRequest,
    GatewayUnavailable,
    RefundOutcome,
    RefundRequest,
)
from domain.payment_status import payment_id_for
from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import WEBHOOK_SECRET, bearer

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SilentGateway(SimulatedGateway):
    """A provider that never answers: the payment stays pending until Stripe's webhook."""

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        raise GatewayUnavailable("timed out")

    async def retrieve_charge(self, intent_id: str) -> ChargeOutcome:
        raise GatewayUnavailable("timed out")

    async def client_secret(self, intent_id: str) -> str | None:
        return None

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        raise GatewayUnavailable("timed out")


@pytest.fixture
def localstripe_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """localstripe's own aiohttp app on loopback (its command line listens on every interface)."""
    from aiohttp import web
    from localstripe import server, webhooks

    monkeypatch.setattr(webhooks, "_webhooks", {})
    # localstripe's routes in an app of our own: its module-level app binds to one event loop
    # and saves its state to a shared file after every write
    app = web.Application(middlewares=[server.error_middleware, server.auth_middleware])
    for route in server.app.router.routes():
        if route.method != "HEAD":
            app.router.add_route(route.method, route.resource.canonical, route.handler)  # type: ignore[union-attr]
    loop, port = asyncio.new_event_loop(), free_port()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


@pytest.fixture
def service_url(
    backend_env: dict[str, str], make_container: Callable[..., Container]
) -> Iterator[str]:
    container = make_container(backend_env)
    container.gateway.override(SilentGateway())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_localstripe_delivers_the_success_of_a_payment_left_pending(
    localstripe_url: str, service_url: str
) -> None:
    user = bearer("localstripe-user")
    body = {"amount": 3100, "currency": "usd", "paymentMethodId": "pm_card_visa"}
    headers = {**user, "Idempotency-Key": "order-77"}
    unknown = httpx.post(f"{service_url}/api/payments/process", json=body, headers=headers)
    assert unknown.status_code == 500 and unknown.json()["error"]["code"] == "STRIPE_ERROR"
    payment_id = str(payment_id_for("localstripe-user", "order-77"))
    assert (
        httpx.get(f"{service_url}/api/payments/{payment_id}", headers=user).json()["status"]
        == "pending"
    )

    hook = {"url": f"{service_url}/api/webhooks/stripe", "secret": WEBHOOK_SECRET}
    assert (
        httpx.post(
            f"{localstripe_url}/_config/webhooks/payments-{payment_id}", json=hook
        ).status_code
        == 200
    )
    client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe_url})
    intent = client.v1.payment_intents.create(
        params={
            "amount": 3100, "currency": "usd", "payment_method": "pm_card_visa",
            "confirm": True, "metadata": {"payment_id": payment_id},
        }
    )  # fmt: skip
    assert intent.status == "succeeded"

    def settled() -> dict[str, Any]:
        return dict(httpx.get(f"{service_url}/api/payments/{payment_id}", headers=user).json())

    deadline = time.monotonic() + 10
    while settled()["status"] != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.1)
    payment = settled()
    assert payment["status"] == "succeeded"
    assert payment["stripePaymentIntentId"] == intent.id

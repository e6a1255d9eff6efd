"""Admission control and deadlines: each worker runs a bounded number of charges and refunds.

Beyond the bound a request is refused at once, before anything is stored or sent to Stripe;
an admitted one is answered within its deadline (the work Stripe has started still finishes
and is recorded; a retry with the same key gets its outcome).
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import msgspec
from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from application.deadlines import Deadline
from application.errors import ServiceUnavailable
from entrypoints.metrics import payment_errors_total, requests_shed_total

SHED = "the service is at capacity; nothing was done. Retry shortly"
LATE = "the request did not finish in time; retry with the same Idempotency-Key for its outcome"
ADMITTED_ROUTES = {"/api/payments/process": "process", "/api/payments/refund": "refund"}


class Admission:
    """Per worker (one event loop): how many charges and refunds run, and for how long."""

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self.in_flight = 0

    @property
    def full(self) -> bool:
        return self.in_flight >= self.limit

    @asynccontextmanager
    async def admitted(self, route: str) -> AsyncIterator[Deadline]:
        if self.full:
            requests_shed_total.labels(route=route).inc()
            raise ServiceUnavailable(SHED, retry_after=1)
        self.in_flight += 1
        deadline = Deadline.after(self.timeout)
        try:
            async with asyncio.timeout(self.timeout) as window:
                yield deadline
        except TimeoutError:
            if not window.expired():
                raise
            raise ServiceUnavailable(LATE, retry_after=1) from None
        finally:
            self.in_flight -= 1


def shed_when_full(admission: Admission) -> Callable[[AppConfig], AppConfig]:
    """on_app_init hook for the outermost middleware: at capacity, a charge or refund is
    refused before it is authenticated or its body read, so that refusing stays cheap under a
    flood. The handler's own check (`admitted`) remains the bound."""
    body = msgspec.json.encode(
        {"success": False, "error": {"code": "SERVICE_UNAVAILABLE", "message": SHED}}
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
    ]

    def middleware(app: ASGIApp) -> ASGIApp:
        async def shed_or_pass(scope: Scope, receive: Receive, send: Send) -> None:
            route = (
                ADMITTED_ROUTES.get(scope["path"].rstrip("/"))
                if scope["type"] == ScopeType.HTTP and scope["method"] == "POST"
                else None
            )
            if route is None or not admission.full:
                await app(scope, receive, send)
                return
            requests_shed_total.labels(route=route).inc()
            payment_errors_total.labels(code="SERVICE_UNAVAILABLE").inc()
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        return shed_or_pass

    def install(app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, middleware)
        return app_config

    return install

"""Admission control and deadlines: each worker runs a bounded number of charges and refunds.

Beyond the bound a request is refused at once, before anything is stored or sent to Stripe;
an admitted one is answered within its deadline (the work Stripe has started still finishes
and is recorded; a retry with the same key gets its outcome). The bound is a count that also
follows the worker's own pace: while its event loop runs late (its CPU is spent), it shrinks.
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
# However late the loop runs, this many in flight are admitted (a lone request during a pause).
LAG_FLOOR = 8


class LoopLag:
    """How late this worker's event loop runs what is due, smoothed over about the last ten
    samples: one pause moves it little, a loop that stays late moves it all the way."""

    SMOOTHING = 0.1

    def __init__(self) -> None:
        self.smoothed = 0.0

    def observe(self, late: float) -> None:
        self.smoothed += (max(late, 0.0) - self.smoothed) * self.SMOOTHING


class Admission:
    """Per worker (one event loop): how many charges and refunds run, and for how long.

    `limit` bounds what is in flight. With `max_lag` (seconds), the bound also follows the
    worker's pace: the loop's lag is sampled every 10 ms (`watch`), and while the smoothed lag
    exceeds `max_lag` the bound drops by a fifth every 100 ms (not below `LAG_FLOOR`); every
    sample on time raises it by one again, up to `limit`. A worker whose CPU is spent thus
    admits what it can carry, and refusals and liveness probes are still answered promptly.
    """

    INTERVAL = 0.01
    DECREASE_EVERY = 0.1  # seconds
    DECREASE = 0.8

    def __init__(
        self,
        limit: int,
        timeout: float,
        *,
        max_lag: float | None = None,
    ) -> None:
        self.limit = limit
        self.timeout = timeout
        self.max_lag = max_lag
        self.lag = LoopLag()
        self.floor = min(limit, LAG_FLOOR)
        self.allowed = float(limit)  # between `floor` and `limit`
        self.in_flight = 0
        self._decreased_at = float("-inf")

    @property
    def bound(self) -> int:
        """How many may be in flight now."""
        return int(self.allowed)

    @property
    def full(self) -> bool:
        return self.in_flight >= self.bound

    def pace(self, late: float, now: float) -> None:
        """One sample of the loop's lag, taken at `now` (seconds): the bound follows."""
        self.lag.observe(late)
        if self.max_lag is None:
            return
        if self.lag.smoothed <= self.max_lag:
            self.allowed = min(float(self.limit), self.allowed + 1)
        elif now - self._decreased_at >= self.DECREASE_EVERY:
            self._decreased_at = now
            self.allowed = max(float(self.floor), self.allowed * self.DECREASE)

    async def watch(self) -> None:
        """Sample the loop's lag for as long as the worker serves (not at all without a bound)."""
        if self.max_lag is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.INTERVAL
            await asyncio.sleep(self.INTERVAL)
            now = loop.time()
            self.pace(now - due, now)

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

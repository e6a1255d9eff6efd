"""Admission control and deadlines: each worker runs a bounded number of charges and refunds.

Beyond the bound a request is refused at once, before anything is stored or sent to Stripe;
an admitted one is answered within its deadline (the work Stripe has started still finishes
and is recorded; a retry with the same key gets its outcome).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from application.deadlines import Deadline
from application.errors import ServiceUnavailable
from entrypoints.metrics import requests_shed_total

SHED = "the service is at capacity; nothing was done. Retry shortly"
LATE = "the request did not finish in time; retry with the same Idempotency-Key for its outcome"


class Admission:
    """Per worker (one event loop): how many charges and refunds run, and for how long."""

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self.in_flight = 0

    @asynccontextmanager
    async def admitted(self, route: str) -> AsyncIterator[Deadline]:
        if self.in_flight >= self.limit:
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

"""Calls to the payment provider: started before the deadline, throttling retried inside it."""

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from application.deadlines import Deadline
from application.errors import NotStarted, ServiceUnavailable
from application.ports import GatewayThrottled

T = TypeVar("T")
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 2.0
MAX_ATTEMPTS = 8
RETRY_AFTER = 2
NOT_STARTED = "the service is busy and did not start this request; retry with the same key"
THROTTLED = "the payment provider is busy; retry with the same Idempotency-Key shortly"


async def call_provider(call: Callable[[], Awaitable[T]], deadline: Deadline) -> T:
    """Run `call` unless the deadline has passed; a throttled call, which the provider did not
    process, is tried again after a jittered, growing pause while the deadline allows."""
    if deadline.expired:
        raise NotStarted(NOT_STARTED)
    backoff = FIRST_BACKOFF
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await call()
        except GatewayThrottled:
            pause = backoff * random.uniform(0.5, 1.0)
            if attempt == MAX_ATTEMPTS or deadline.remaining() <= pause:
                raise ServiceUnavailable(THROTTLED, retry_after=RETRY_AFTER) from None
            await asyncio.sleep(pause)
            backoff = min(backoff * 2, MAX_BACKOFF)
    raise AssertionError("unreachable")


async def shielded(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to its end even if the caller is cancelled (a client gone, a deadline).

    Used from the provider call on: once Stripe is asked, its answer is recorded.
    """
    task = asyncio.ensure_future(work)
    task.add_done_callback(_observed)
    return await asyncio.shield(task)


def _observed(task: "asyncio.Future[Any]") -> None:
    """An abandoned call's error is the retry's to report, not the event loop's."""
    if not task.cancelled():
        task.exception()

"""Litestar's rate limit, counted in one atomic step per request.

Litestar's own middleware reads and writes its store under one lock per process, so a slow
store makes every request wait for the one before it. Here each request takes one atomic
count (a Redis script or an in-memory step) and nobody waits for anybody.
"""

from time import time
from typing import Any, Protocol

from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    CacheObject,
    RateLimitConfig,
    RateLimitMiddleware,
)
from litestar.stores.memory import MemoryStore
from litestar.types import Receive, Scope, Send

from adapters.rate_counter import Window


class RateCounter(Protocol):
    async def hit(self, key: str, window: int) -> Window: ...

    async def count(self, key: str) -> int: ...


class CountingStore(MemoryStore):
    """The app's rate-limit store: it hands the middleware a counter to count with."""

    def __init__(self, counter: RateCounter) -> None:
        super().__init__()
        self.counter = counter


def counter_in(store: Any) -> RateCounter:
    if not isinstance(store, CountingStore):
        raise TypeError("the rate-limit store must be a CountingStore")
    return store.counter


class AtomicRateLimitMiddleware(RateLimitMiddleware):
    """RateLimitMiddleware with one atomic count per request instead of a locked read-write."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["litestar_app"]
        request = app.request_class(scope)
        if await self.should_check_request(request=request):
            counter = counter_in(self.config.get_store_from_app(app))
            key = self.cache_key_from_request(request)
            window = await counter.hit(key, DURATION_VALUES[self.unit])
            counted = CacheObject(
                history=[0] * min(window.count, self.max_requests + 1),
                reset=int(time()) + window.reset_in,
            )
            headers = self.create_response_headers(counted)
            if window.count > self.max_requests:
                raise TooManyRequestsException(
                    headers=headers if self.config.set_rate_limit_headers else None
                )
            if self.config.set_rate_limit_headers:
                send = self.create_send_wrapper(send=send, cache_object=counted)
        await self.app(scope, receive, send)


class AtomicRateLimitConfig(RateLimitConfig):
    """A RateLimitConfig whose middleware counts atomically."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.middleware_class = AtomicRateLimitMiddleware

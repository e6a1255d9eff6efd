"""Failed authentications count against the client's address: past the limit, 429 at once.

Only a 401 costs a count (one atomic step, shared through Redis when configured); an
address found over the limit is refused by this process without asking again until its
window ends, so a good request never pays for this check. Probes, metrics, the schema and
Stripe's webhooks carry no bearer and are never refused: many clients can share an address
(a NAT, the platform's backend), and a liveness probe answered 429 gets the worker restarted.
"""

import re
import time
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.middleware.rate_limit import get_remote_address
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.http.auth import CONSOLE_PATH, PUBLIC_PATHS
from entrypoints.http.rate_limiter import counter_in

WINDOW_SECONDS = 60
KEY = "auth-failures:{}"
MAX_BLOCKED = 10_000
# The routes that take no bearer, but the console, whose sign-in is counted like any other.
NO_BEARER_PATHS = re.compile("|".join(p for p in PUBLIC_PATHS if p != CONSOLE_PATH))


class AuthFailureLimit(ASGIMiddleware):
    """Refuses an address that failed authentication too often in the last window."""

    scopes = (ScopeType.HTTP,)

    @staticmethod
    def should_bypass_for_scope(scope: Scope) -> bool:
        return NO_BEARER_PATHS.match(scope["path"]) is not None

    def __init__(self, per_minute: int, store_name: str) -> None:
        self.per_minute = per_minute
        self.store_name = store_name
        self.blocked: dict[str, float] = {}

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        address = get_remote_address(Request[Any, Any, Any](scope))
        until = self.blocked.get(address)
        if until is not None:
            if until > time.monotonic():
                reset = str(max(int(until - time.monotonic()), 1))
                raise TooManyRequestsException(headers={"RateLimit-Reset": reset})
            del self.blocked[address]
        app = scope["litestar_app"]

        async def failed() -> None:
            counter = counter_in(app.stores.get(self.store_name))
            window = await counter.hit(KEY.format(address), WINDOW_SECONDS)
            if window.count >= self.per_minute:
                self._block(address, time.monotonic() + window.reset_in)

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                await failed()
            await send(message)

        try:
            await next_app(scope, receive, counting_send)
        except NotAuthorizedException:
            await failed()
            raise

    def _block(self, address: str, until: float) -> None:
        if len(self.blocked) >= MAX_BLOCKED:
            now = time.monotonic()
            self.blocked = {a: t for a, t in self.blocked.items() if t > now}
        self.blocked[address] = until


def install(per_minute: int, store_name: str) -> Callable[[AppConfig], AppConfig]:
    """on_app_init hook, after authentication's: outside it, so its 401s are seen."""

    def hook(app_config: AppConfig) -> AppConfig:
        if per_minute:
            app_config.middleware.insert(0, AuthFailureLimit(per_minute, store_name))
        return app_config

    return hook

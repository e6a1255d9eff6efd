"""Rate limits: per user on the payment routes, per client address on the Stripe webhook
and on the console (whose requests carry no bearer token).

Only webhook deliveries whose signature does not verify count: Stripe sends from a few
addresses and bursts after an outage, and its genuine deliveries are never turned away.

Counts live in Redis when PAYMENTS_REDIS_URL is set, so every worker and every instance
shares them; otherwise in process memory. If Redis fails, the circuit breaker skips it and
each process counts in memory until it answers again: limits stay on (per process),
payments go on, and no request waits for another (see rate_limiter).
"""

from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.stores.base import Store
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.circuit_breaker import CircuitBreaker
from adapters.rate_counter import LocalRateCounter, RedisRateCounter
from adapters.stripe_signature import HEADER, verify_stripe_signature
from application.actors import Actor
from domain.errors import InvalidInput
from entrypoints.http.rate_limiter import AtomicRateLimitConfig, CountingStore

PAYMENT_ROUTES = ("/api/payments", "/api/payment-methods", "/console")
STATIC_ROUTES = "/console/static"
WEBHOOK_ROUTE = "/api/webhooks/stripe"
STORE_NAME = "rate_limit"
NAMESPACE = "payments-rate-limit"


def _user_or_address(request: Request[Any, Any, Any]) -> str:
    user = request.scope.get("user")
    return (
        f"user:{user.user_id}" if isinstance(user, Actor) else f"addr:{get_remote_address(request)}"
    )


def _address(request: Request[Any, Any, Any]) -> str:
    return f"webhook-addr:{get_remote_address(request)}"


def _is_payment_route(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    return path.startswith(PAYMENT_ROUTES) and not path.startswith(STATIC_ROUTES)


def _is_webhook_route(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.rstrip("/") == WEBHOOK_ROUTE


def read_webhook_body(app: ASGIApp) -> ASGIApp:
    """Before the limits: the webhook's body, read once and kept for the limit and the handler."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["path"].rstrip("/") == WEBHOOK_ROUTE:
            await Request[Any, Any, Any](scope, receive).body()
        await app(scope, receive, send)

    return middleware


def _unverified_webhook(secrets: tuple[str, ...]) -> Any:
    async def check(request: Request[Any, Any, Any]) -> bool:
        if not _is_webhook_route(request):
            return False
        try:
            verify_stripe_signature(await request.body(), request.headers.get(HEADER), secrets)
        except InvalidInput:
            return True
        return False

    return check


def rate_limits(
    per_user_per_minute: int, webhook_per_minute: int, webhook_secrets: tuple[str, ...] = ()
) -> list[RateLimitConfig]:
    """The limits in force; 0 turns one off."""
    configs: list[RateLimitConfig] = []
    if per_user_per_minute:
        configs.append(
            AtomicRateLimitConfig(
                rate_limit=("minute", per_user_per_minute),
                identifier_for_request=_user_or_address,
                check_throttle_handler=_is_payment_route,
                store=STORE_NAME,
            )
        )
    if webhook_per_minute:
        configs.append(
            AtomicRateLimitConfig(
                rate_limit=("minute", webhook_per_minute),
                identifier_for_request=_address,
                check_throttle_handler=_unverified_webhook(webhook_secrets),
                store=STORE_NAME,
            )
        )
    return configs


def rate_limit_store(redis_url: str | None, breaker: CircuitBreaker | None = None) -> Store:
    if not redis_url:
        return CountingStore(LocalRateCounter())
    counter = RedisRateCounter.from_url(redis_url, namespace=NAMESPACE, breaker=breaker)
    return CountingStore(counter)

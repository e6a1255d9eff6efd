"""Rate limits: per user on the payment routes, per client address on the Stripe webhook.

Counts live in Redis when PAYMENTS_REDIS_URL is set, so every worker and every instance
shares them; otherwise in process memory. If Redis fails, the circuit breaker skips it and
each process counts in memory until it answers again: limits stay on (per process),
payments go on, and no request waits for another (see rate_limiter).
"""

from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.stores.base import Store

from adapters.circuit_breaker import CircuitBreaker
from adapters.rate_counter import LocalRateCounter, RedisRateCounter
from application.actors import Actor
from entrypoints.http.rate_limiter import AtomicRateLimitConfig, CountingStore

PAYMENT_ROUTES = ("/api/payments", "/api/payment-methods")
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
    return request.url.path.startswith(PAYMENT_ROUTES)


def _is_webhook_route(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.rstrip("/") == WEBHOOK_ROUTE


def rate_limits(per_user_per_minute: int, webhook_per_minute: int) -> list[RateLimitConfig]:
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
                check_throttle_handler=_is_webhook_route,
                store=STORE_NAME,
            )
        )
    return configs


def rate_limit_store(redis_url: str | None, breaker: CircuitBreaker | None = None) -> Store:
    if not redis_url:
        return CountingStore(LocalRateCounter())
    counter = RedisRateCounter.from_url(redis_url, namespace=NAMESPACE, breaker=breaker)
    return CountingStore(counter)

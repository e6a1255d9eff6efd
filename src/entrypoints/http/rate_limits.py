"""Rate limits: per user on the payment routes, per client address on the Stripe webhook
and on the console (whose requests carry no bearer token).

Counts live in Redis when PAYMENTS_REDIS_URL is set, so every worker and every instance
shares them; otherwise in process memory. If Redis fails, each process keeps counting in
memory until it answers again: limits stay on (per process), payments go on.
"""

from datetime import timedelta
from typing import Any

import structlog
from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from redis.exceptions import RedisError

from application.actors import Actor

PAYMENT_ROUTES = ("/api/payments", "/api/payment-methods", "/console")
STATIC_ROUTES = "/console/static"
WEBHOOK_ROUTE = "/api/webhooks/stripe"
STORE_NAME = "rate_limit"
log = structlog.get_logger(__name__)


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


def rate_limits(per_user_per_minute: int, webhook_per_minute: int) -> list[RateLimitConfig]:
    """The limits in force; 0 turns one off."""
    configs = []
    if per_user_per_minute:
        configs.append(
            RateLimitConfig(
                rate_limit=("minute", per_user_per_minute),
                identifier_for_request=_user_or_address,
                check_throttle_handler=_is_payment_route,
                store=STORE_NAME,
            )
        )
    if webhook_per_minute:
        configs.append(
            RateLimitConfig(
                rate_limit=("minute", webhook_per_minute),
                identifier_for_request=_address,
                check_throttle_handler=_is_webhook_route,
                store=STORE_NAME,
            )
        )
    return configs


class FallbackStore(Store):
    """A store that serves from Redis and falls back to process memory while Redis fails."""

    def __init__(self, primary: Store) -> None:
        self.primary = primary
        self.fallback = MemoryStore()

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self.primary, method)(*args, **kwargs)
        except (RedisError, OSError) as error:
            log.warning("rate_limit_store_unavailable", error=type(error).__name__)
            return await getattr(self.fallback, method)(*args, **kwargs)

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        await self._call("set", key, value, expires_in=expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        result: bytes | None = await self._call("get", key, renew_for=renew_for)
        return result

    async def delete(self, key: str) -> None:
        await self._call("delete", key)

    async def delete_all(self) -> None:
        await self._call("delete_all")

    async def exists(self, key: str) -> bool:
        return bool(await self._call("exists", key))

    async def expires_in(self, key: str) -> int | None:
        result: int | None = await self._call("expires_in", key)
        return result


def rate_limit_store(redis_url: str | None) -> Store:
    if not redis_url:
        return MemoryStore()
    client = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
    return FallbackStore(RedisStore(client, namespace="payments-rate-limit"))

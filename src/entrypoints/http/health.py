"""Liveness and readiness for load balancers and orchestrators."""

from typing import Any
from uuid import UUID

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from adapters.idempotency_redis import RedisIdempotencyStore
from adapters.projection_runner import PollingProjectionRunner
from application.idempotency import IdempotentRequests
from application.ports import PaymentStore

PROBE_ID = UUID(int=0)


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="live", sync_to_thread=False)
    def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", operation_id="ready", sync_to_thread=True)
    def ready(
        self,
        store: NamedDependency[PaymentStore],
        history_runner: NamedDependency[PollingProjectionRunner],
        idempotency: NamedDependency[IdempotentRequests],
    ) -> Response[dict[str, Any]]:
        components: dict[str, Any] = {}
        healthy = True
        try:
            store.find(PROBE_ID)
            components["eventStore"] = {"status": "ok"}
        except Exception as error:  # readiness reports, it does not raise
            healthy = False
            components["eventStore"] = {"status": "down", "error": type(error).__name__}
        try:
            components["history"] = {"status": "ok", "lag": history_runner.lag()}
        except Exception as error:
            healthy = False
            components["history"] = {"status": "down", "error": type(error).__name__}
        if isinstance(idempotency.store, RedisIdempotencyStore):
            components["redis"] = redis_status(idempotency.store)
        body = {"status": "ok" if healthy else "down", "components": components}
        return Response(body, status_code=200 if healthy else 503)


def redis_status(store: RedisIdempotencyStore) -> dict[str, str]:
    """Redis is the fast path only: without it payments go on, so it degrades, never fails."""
    try:
        store.ping()
    except Exception as error:
        return {"status": "degraded", "error": type(error).__name__}
    return {"status": "ok"}

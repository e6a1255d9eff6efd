"""Liveness and readiness for load balancers and orchestrators."""

from typing import Literal
from uuid import UUID

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from msgspec import Struct

from adapters.projection_runner import PollingProjectionRunner
from application.ports import PaymentStore
from application.probes import DependencyProbe

PROBE_ID = UUID(int=0)
Status = Literal["ok", "degraded", "down"]


class ComponentHealth(Struct, omit_defaults=True):
    status: Status
    error: str | None = None
    lag: int | None = None


class HealthReport(Struct):
    status: Status
    components: dict[str, ComponentHealth]


class Liveness(Struct):
    status: Literal["ok"]


NOT_READY = ResponseSpec(
    data_container=HealthReport,
    description="The event store or the read model is down; do not route traffic here",
    generate_examples=False,
)


def _failed(error: Exception, status: Status) -> ComponentHealth:
    return ComponentHealth(status=status, error=type(error).__name__)


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="live", sync_to_thread=False)
    def live(self) -> Liveness:
        return Liveness(status="ok")

    @get("/ready", operation_id="ready", sync_to_thread=True, responses={503: NOT_READY})
    def ready(
        self,
        store: NamedDependency[PaymentStore],
        history_runner: NamedDependency[PollingProjectionRunner],
        probes: NamedDependency[list[DependencyProbe]],
    ) -> Response[HealthReport]:
        """Ready: the event store and read model answer. Degraded: an optional one does not."""
        components: dict[str, ComponentHealth] = {}
        try:
            store.find(PROBE_ID)
            components["eventStore"] = ComponentHealth(status="ok")
        except Exception as error:  # readiness reports, it does not raise
            components["eventStore"] = _failed(error, "down")
        try:
            components["history"] = ComponentHealth(status="ok", lag=history_runner.lag())
        except Exception as error:
            components["history"] = _failed(error, "down")
        for probe in probes:  # Redis is a fast path: without it the service still works
            try:
                probe.check()
                components[probe.name] = ComponentHealth(status="ok")
            except Exception as error:
                components[probe.name] = _failed(error, "degraded")
        statuses = {c.status for c in components.values()}
        overall: Status = (
            "down" if "down" in statuses else "degraded" if "degraded" in statuses else "ok"
        )
        return Response(
            HealthReport(status=overall, components=components),
            status_code=503 if overall == "down" else 200,
        )

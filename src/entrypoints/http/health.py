"""Liveness and readiness for load balancers and orchestrators."""

from dataclasses import asdict
from typing import Literal

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from msgspec import Struct

from entrypoints.readiness import Readiness, Status, overall


class ComponentHealth(Struct, omit_defaults=True):
    status: Status
    error: str | None = None
    lag: int | None = None
    parked: int | None = None
    stranded: int | None = None


class HealthReport(Struct):
    status: Status
    components: dict[str, ComponentHealth]


class Liveness(Struct):
    status: Literal["ok"]


NOT_READY = ResponseSpec(
    data_container=HealthReport,
    description="The event store or the read model is down: route no traffic here",
    generate_examples=False,
)


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    security = [{}]  # public: load balancers carry no token

    @get("/live", operation_id="live", sync_to_thread=False)
    def live(self) -> Liveness:
        return Liveness(status="ok")

    @get("/ready", operation_id="ready", sync_to_thread=True, responses={503: NOT_READY})
    def ready(self, readiness: NamedDependency[Readiness]) -> Response[HealthReport]:
        """Ready: the event store and read model answer. Degraded: Redis does not."""
        found = readiness.components()
        status = overall(found)
        components = {name: ComponentHealth(**asdict(c)) for name, c in found.items()}
        return Response(
            HealthReport(status=status, components=components),
            status_code=503 if status == "down" else 200,
        )

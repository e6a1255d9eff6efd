"""Readiness: is each dependency answering, within a deadline a load balancer can wait for?"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from adapters.projection_runner import PollingProjectionRunner
from adapters.schema_version import SchemaNotReady
from application.outbound_events import OutboxHealth
from application.ports import PaymentStore
from application.probes import DependencyProbe
from entrypoints.deadline import DeadlineCheck

PROBE_ID = UUID(int=0)
DEADLINE_SECONDS = 2.0
Status = Literal["ok", "degraded", "down"]


@dataclass(frozen=True)
class Component:
    status: Status
    error: str | None = None
    lag: int | None = None
    parked: int | None = None
    stranded: int | None = None


class Readiness:
    """The event store, read model and schema are required; Redis (a fast path) only degrades."""

    def __init__(
        self,
        store: PaymentStore,
        history_runner: PollingProjectionRunner,
        probes: Sequence[DependencyProbe],
        deadline: float = DEADLINE_SECONDS,
        schema: DependencyProbe | None = None,
        outbound: Callable[[], OutboxHealth] | None = None,
    ) -> None:
        def bounded(check: Callable[[], object]) -> DeadlineCheck[object]:
            return DeadlineCheck(check, deadline)

        self._required: dict[str, DeadlineCheck[object]] = {
            "eventStore": bounded(lambda: store.find(PROBE_ID)),
            "history": bounded(history_runner.lag),
        }
        if schema is not None:
            self._required[schema.name] = bounded(schema.check)
        self._runner = history_runner
        self._optional = {probe.name: bounded(probe.check) for probe in probes}
        self._outbound = bounded(outbound) if outbound is not None else None

    def components(self) -> dict[str, Component]:
        found = {name: _run(check, "down") for name, check in self._required.items()}
        stalled = self._runner.error
        if found["history"].status == "ok" and found["history"].lag and stalled is not None:
            # the projection keeps failing on an event: lists stop following the log
            found["history"] = Component("degraded", type(stalled).__name__, found["history"].lag)
        found.update({name: _run(check, "degraded") for name, check in self._optional.items()})
        if self._outbound is not None:
            found["outboundEvents"] = _outbound(self._outbound)
        return found


def overall(components: dict[str, Component]) -> Status:
    statuses = {c.status for c in components.values()}
    return "down" if "down" in statuses else "degraded" if "degraded" in statuses else "ok"


def _run(check: DeadlineCheck[object], failed: Status) -> Component:
    try:
        result = check()
    except Exception as error:  # readiness reports, it does not raise
        # the schema's message says what to run; any other may name hosts or paths: its type only
        told = str(error) if isinstance(error, SchemaNotReady) else type(error).__name__
        return Component(status=failed, error=told)
    return Component(status="ok", lag=result if isinstance(result, int) else None)


def _outbound(check: DeadlineCheck[object]) -> Component:
    """Lag in seconds and events parked: receivers may be behind, payments go on."""
    try:
        health = check()
    except Exception as error:  # readiness reports, it does not raise
        return Component(status="degraded", error=type(error).__name__)
    assert isinstance(health, OutboxHealth)
    status: Status = "degraded" if health.parked or health.stranded else "ok"
    return Component(
        status=status,
        lag=round(health.lag_seconds),
        parked=health.parked,
        stranded=health.stranded,
    )

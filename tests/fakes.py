"""Fakes that implement the application's ports in memory, checked by their state."""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder

from adapters.simulated_gateway import SimulatedGateway
from application.history import CountDeltas, HistoryView
from application.ports import (
    ChargeOutcome,
    ChargeRequest,
    GatewayRequestInFlight,
    HistoryPage,
    HistoryRow,
    RefundOutcome,
    RefundRequest,
)

T = TypeVar("T")


def awaitable(handle: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """A synchronous handler as the coroutine function the idempotency layer awaits."""

    async def run() -> T:
        return handle()

    return run


class InMemoryHistoryView(POPOTrackingRecorder, HistoryView):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[UUID, HistoryRow] = {}
        self.counts: dict[tuple[str, str], int] = {}

    def read_row(self, payment_id: UUID) -> HistoryRow | None:
        return self.rows.get(payment_id)

    def write_rows(
        self, rows: Sequence[HistoryRow], count_deltas: CountDeltas, tracking: Tracking
    ) -> None:
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            self.rows.update({row.id: replace(row) for row in rows})
            for key, delta in count_deltas.items():
                self.counts[key] = self.counts.get(key, 0) + delta
            self._insert_tracking(tracking)

    def page(self, user_id: str, *, limit: int, offset: int, status: str | None) -> HistoryPage:
        rows = [
            r
            for r in self.rows.values()
            if r.user_id == user_id and (status is None or r.status == status)
        ]
        rows.sort(key=lambda r: (r.created_at, str(r.id)), reverse=True)
        total = sum(
            n for (user, s), n in self.counts.items() if user == user_id and status in (None, s)
        )
        return HistoryPage(items=rows[offset : offset + limit], total=total)

    def clear(self) -> None:
        with self._database_lock:
            self.rows.clear()
            self.counts.clear()
            self._max_tracking_ids.clear()


class CountingGateway(SimulatedGateway):
    """The simulated Stripe, slowed down so that duplicates overlap, counting what it is asked.

    Like Stripe, a request whose idempotency key is still being processed is refused (409).
    """

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self._guard = threading.Lock()
        self._in_flight: set[str] = set()
        self.refused: list[str] = []

    async def _once_at_a_time(self, key: str, call: Callable[[], Awaitable[T]]) -> T:
        with self._guard:
            if key in self._in_flight:
                self.refused.append(key)
                raise GatewayRequestInFlight(f"a request with key {key} is in progress")
            self._in_flight.add(key)
        try:
            await asyncio.sleep(self.delay)
            return await call()
        finally:
            with self._guard:
                self._in_flight.discard(key)

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        return await self._once_at_a_time(
            request.idempotency_key, lambda: super(CountingGateway, self).charge(request)
        )

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        return await self._once_at_a_time(
            request.idempotency_key, lambda: super(CountingGateway, self).refund(request)
        )

    @property
    def intents(self) -> set[str]:
        """PaymentIntents created: Stripe makes one per idempotency key."""
        return {call.idempotency_key for call in self.charge_calls}

    @property
    def refunded(self) -> int:
        """Money given back: one refund per Stripe idempotency key."""
        return sum({c.idempotency_key: c.amount for c in self.refund_calls}.values())

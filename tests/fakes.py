"""Fakes that implement the application's ports in memory, checked by their state."""

import threading
import time
from dataclasses import replace
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder

from adapters.simulated_gateway import SimulatedGateway
from application.history import HistoryView
from application.ports import (
    ChargeOutcome,
    ChargeRequest,
    HistoryPage,
    HistoryRow,
    RefundOutcome,
    RefundRequest,
)


class InMemoryHistoryView(POPOTrackingRecorder, HistoryView):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[UUID, HistoryRow] = {}
        self.counts: dict[tuple[str, str], int] = {}

    def find_row(self, payment_id: UUID) -> HistoryRow | None:
        return self.rows.get(payment_id)

    def write_row(self, row: HistoryRow, previous_status: str | None, tracking: Tracking) -> None:
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            self.rows[row.id] = replace(row)
            if previous_status != row.status:
                if previous_status is not None:
                    key = (row.user_id, previous_status)
                    self.counts[key] = self.counts.get(key, 0) - 1
                key = (row.user_id, row.status)
                self.counts[key] = self.counts.get(key, 0) + 1
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
    """The simulated Stripe, slowed down so that duplicates overlap, counting what it is asked."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self._guard = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        with self._guard:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            return super().charge(request)
        finally:
            with self._guard:
                self.in_flight -= 1

    def refund(self, request: RefundRequest) -> RefundOutcome:
        time.sleep(self.delay)
        return super().refund(request)

    @property
    def intents(self) -> set[str]:
        """PaymentIntents created: Stripe makes one per idempotency key."""
        return {call.idempotency_key for call in self.charge_calls}

    @property
    def refunded(self) -> int:
        """Money given back: one refund per Stripe idempotency key."""
        return sum({c.idempotency_key: c.amount for c in self.refund_calls}.values())

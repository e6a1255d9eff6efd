"""Fakes that implement the application's ports in memory, checked by their state."""

from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder

from application.history import CountDeltas, HistoryView
from application.ports import HistoryPage, HistoryRow


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

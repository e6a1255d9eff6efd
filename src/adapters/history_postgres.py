"""Payment history read model in PostgreSQL; its tables come from migrations/."""

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

from adapters.postgres_rows import row_of, rows_by_id, upsert_rows
from application.history import CountDeltas, HistoryView
from application.ports import HistoryPage, HistoryRow

TABLE = "payment_history"
TYPES = {
    "id": "uuid", "user_id": "text", "amount": "bigint", "currency": "text", "status": "text",
    "charge_status": "text", "refunded_amount": "bigint", "course_id": "text",
    "created_at": "timestamptz", "updated_at": "timestamptz",
}  # fmt: skip
COLUMNS = ", ".join(TYPES)
UPDATED = ("status", "charge_status", "refunded_amount", "updated_at")


class PostgresHistoryView(PostgresTrackingRecorder, HistoryView):
    def read_row(self, payment_id: UUID) -> HistoryRow | None:
        return self.read_rows([payment_id]).get(payment_id)

    def read_rows(self, payment_ids: Sequence[UUID]) -> dict[UUID, HistoryRow]:
        with self.datastore.transaction(commit=False) as c:
            return rows_by_id(c, HistoryRow, TABLE, COLUMNS, payment_ids)

    def write_rows(
        self, rows: Sequence[HistoryRow], count_deltas: CountDeltas, tracking: Tracking
    ) -> None:
        # One statement per table for the whole batch: its rows and counts are unique by key.
        with self.datastore.transaction(commit=True) as c:
            upsert_rows(c, TABLE, TYPES, rows, UPDATED)
            c.execute(
                "INSERT INTO payment_counts (user_id, status, n) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[]) "
                "ON CONFLICT (user_id, status) DO UPDATE SET n = payment_counts.n + excluded.n",
                [
                    [user for user, _ in count_deltas],
                    [status for _, status in count_deltas],
                    list(count_deltas.values()),
                ],
            )
            self._insert_tracking(c, tracking)

    def page(self, user_id: str, *, limit: int, offset: int, status: str | None) -> HistoryPage:
        where, params = "user_id = %s", [user_id]
        if status is not None:
            where, params = "user_id = %s AND status = %s", [user_id, status]
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT COALESCE(SUM(n), 0) AS total FROM payment_counts WHERE {where}", params
            )
            count = c.fetchone()
            total = int(count["total"]) if count else 0
            c.execute(
                f"SELECT {COLUMNS} FROM payment_history WHERE {where} "
                "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
                [*params, limit, offset],
            )
            rows = [row_of(HistoryRow, r) for r in c.fetchall()]
        return HistoryPage(items=rows, total=total)

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("TRUNCATE payment_history, payment_counts")
            c.execute(
                f"DELETE FROM {self.tracking_table_name} WHERE application_name != '__migration__'"
            )

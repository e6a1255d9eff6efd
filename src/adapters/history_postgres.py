"""Payment history read model in PostgreSQL; its tables come from migrations/."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

from application.history import CountDeltas, HistoryView
from application.ports import HistoryPage, HistoryRow

COLUMNS = (
    "id, user_id, amount, currency, status, charge_status, refunded_amount, course_id, "
    "created_at, updated_at"
)


def _row(record: Any) -> HistoryRow:
    return HistoryRow(
        id=record["id"],
        user_id=record["user_id"],
        amount=record["amount"],
        currency=record["currency"].strip(),
        status=record["status"],
        charge_status=record["charge_status"],
        refunded_amount=record["refunded_amount"],
        course_id=record["course_id"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


class PostgresHistoryView(PostgresTrackingRecorder, HistoryView):
    def read_row(self, payment_id: UUID) -> HistoryRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {COLUMNS} FROM payment_history WHERE id = %s", (payment_id,))
            record = c.fetchone()
        return _row(record) if record else None

    def read_rows(self, payment_ids: Sequence[UUID]) -> dict[UUID, HistoryRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {COLUMNS} FROM payment_history WHERE id = ANY(%s)", (list(payment_ids),)
            )
            return {row.id: row for row in map(_row, c.fetchall())}

    def write_rows(
        self, rows: Sequence[HistoryRow], count_deltas: CountDeltas, tracking: Tracking
    ) -> None:
        # One statement per table for the whole batch: its rows and counts are unique by key.
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO payment_history ({COLUMNS}) SELECT * FROM unnest("
                "%s::uuid[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], "
                "%s::bigint[], %s::text[], %s::timestamptz[], %s::timestamptz[]) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                "charge_status = excluded.charge_status, "
                "refunded_amount = excluded.refunded_amount, updated_at = excluded.updated_at",
                [
                    [row.id for row in rows], [row.user_id for row in rows],
                    [row.amount for row in rows], [row.currency for row in rows],
                    [row.status for row in rows], [row.charge_status for row in rows],
                    [row.refunded_amount for row in rows], [row.course_id for row in rows],
                    [row.created_at for row in rows], [row.updated_at for row in rows],
                ],
            )  # fmt: skip
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
            rows = [_row(r) for r in c.fetchall()]
        return HistoryPage(items=rows, total=total)

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("TRUNCATE payment_history, payment_counts")
            c.execute(
                f"DELETE FROM {self.tracking_table_name} WHERE application_name != '__migration__'"
            )

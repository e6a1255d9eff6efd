"""The operator read model in PostgreSQL; its table and indexes come from migrations/."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

from adapters.operator_sql import COLUMNS, TABLE, count_sql, found, page_sql
from adapters.postgres_rows import row_of, rows_by_id, upsert_rows
from application.operator_projection import OperatorView
from application.operator_search import OperatorPage, OperatorRow, PaymentQuery

# The columns of operator_sql.COLUMNS, in order, with their types.
TYPES = {
    "id": "uuid", "user_id": "text", "amount": "bigint", "currency": "text", "status": "text",
    "charge_status": "text", "refunded_amount": "bigint", "course_id": "text",
    "intent_id": "text", "created_at": "timestamptz", "updated_at": "timestamptz",
}  # fmt: skip
UPDATED = ("status", "charge_status", "intent_id", "refunded_amount", "updated_at")


def _same(value: Any) -> Any:
    return value


class PostgresOperatorView(PostgresTrackingRecorder, OperatorView):
    def read_row(self, payment_id: UUID) -> OperatorRow | None:
        return self.read_rows([payment_id]).get(payment_id)

    def read_rows(self, payment_ids: Sequence[UUID]) -> dict[UUID, OperatorRow]:
        with self.datastore.transaction(commit=False) as c:
            return rows_by_id(c, OperatorRow, TABLE, COLUMNS, payment_ids)

    def write_rows(self, rows: Sequence[OperatorRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            upsert_rows(c, TABLE, TYPES, rows, UPDATED)  # one statement for the whole batch
            self._insert_tracking(c, tracking)

    def search(self, query: PaymentQuery) -> OperatorPage:
        with self.datastore.transaction(commit=False) as c:
            c.execute(*count_sql(query, "%s", _same, _same))
            count = c.fetchone()
            counted = int(count["total"]) if count else 0
            c.execute(*page_sql(query, "%s", _same, _same))
            rows = [row_of(OperatorRow, r) for r in c.fetchall()]
        return found(counted, rows)

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"TRUNCATE {TABLE}")
            c.execute(
                f"DELETE FROM {self.tracking_table_name} WHERE application_name != '__migration__'"
            )

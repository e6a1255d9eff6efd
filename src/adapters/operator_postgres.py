"""The operator read model in PostgreSQL; its table and indexes come from migrations/."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

from adapters.operator_sql import COLUMNS, TABLE, count_sql, found, page_sql
from application.operator_projection import OperatorView
from application.operator_search import OperatorPage, OperatorRow, PaymentQuery


def _row(record: Any) -> OperatorRow:
    return OperatorRow(
        id=record["id"],
        user_id=record["user_id"],
        amount=record["amount"],
        currency=record["currency"].strip(),
        status=record["status"],
        charge_status=record["charge_status"],
        refunded_amount=record["refunded_amount"],
        course_id=record["course_id"],
        intent_id=record["intent_id"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


def _same(value: Any) -> Any:
    return value


class PostgresOperatorView(PostgresTrackingRecorder, OperatorView):
    def read_row(self, payment_id: UUID) -> OperatorRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {COLUMNS} FROM {TABLE} WHERE id = %s", (payment_id,))
            record = c.fetchone()
        return _row(record) if record else None

    def read_rows(self, payment_ids: Sequence[UUID]) -> dict[UUID, OperatorRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {COLUMNS} FROM {TABLE} WHERE id = ANY(%s)", (list(payment_ids),))
            return {row.id: row for row in map(_row, c.fetchall())}

    def write_rows(self, rows: Sequence[OperatorRow], tracking: Tracking) -> None:
        # One statement for the whole batch: its rows are unique by id.
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {TABLE} ({COLUMNS}) SELECT * FROM unnest("
                "%s::uuid[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], "
                "%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[]) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                "charge_status = excluded.charge_status, intent_id = excluded.intent_id, "
                "refunded_amount = excluded.refunded_amount, updated_at = excluded.updated_at",
                [
                    [row.id for row in rows], [row.user_id for row in rows],
                    [row.amount for row in rows], [row.currency for row in rows],
                    [row.status for row in rows], [row.charge_status for row in rows],
                    [row.refunded_amount for row in rows], [row.course_id for row in rows],
                    [row.intent_id for row in rows], [row.created_at for row in rows],
                    [row.updated_at for row in rows],
                ],
            )  # fmt: skip
            self._insert_tracking(c, tracking)

    def search(self, query: PaymentQuery) -> OperatorPage:
        with self.datastore.transaction(commit=False) as c:
            c.execute(*count_sql(query, "%s", _same, _same))
            count = c.fetchone()
            counted = int(count["total"]) if count else 0
            c.execute(*page_sql(query, "%s", _same, _same))
            rows = [_row(r) for r in c.fetchall()]
        return found(counted, rows)

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"TRUNCATE {TABLE}")
            c.execute(
                f"DELETE FROM {self.tracking_table_name} WHERE application_name != '__migration__'"
            )

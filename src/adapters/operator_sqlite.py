"""The operator read model in SQLite, in its own file, for the embedded default."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from adapters.history_sqlite import sqlite_stamp
from adapters.operator_sql import COLUMNS, TABLE, count_sql, found, page_sql
from application.operator_projection import OperatorView
from application.operator_search import OperatorPage, OperatorRow, PaymentQuery


def _row(record: Any) -> OperatorRow:
    return OperatorRow(
        id=UUID(record["id"]),
        user_id=record["user_id"],
        amount=record["amount"],
        currency=record["currency"],
        status=record["status"],
        charge_status=record["charge_status"],
        refunded_amount=record["refunded_amount"],
        course_id=record["course_id"],
        intent_id=record["intent_id"],
        created_at=datetime.fromisoformat(record["created_at"]),
        updated_at=datetime.fromisoformat(record["updated_at"]),
    )


class SQLiteOperatorView(SQLiteTrackingRecorder, OperatorView):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            "id TEXT PRIMARY KEY, user_id TEXT NOT NULL, amount INTEGER NOT NULL, "
            "currency TEXT NOT NULL, status TEXT NOT NULL, charge_status TEXT NOT NULL, "
            "refunded_amount INTEGER NOT NULL, course_id TEXT, intent_id TEXT, "
            "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_created ON {TABLE} (created_at DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_status_created "
            f"ON {TABLE} (status, created_at DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_user_created "
            f"ON {TABLE} (user_id, created_at DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_course_created "
            f"ON {TABLE} (course_id, created_at DESC, id DESC)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_intent ON {TABLE} (intent_id)",
        ]

    def read_row(self, payment_id: UUID) -> OperatorRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {COLUMNS} FROM {TABLE} WHERE id = ?", (str(payment_id),))
            record = c.fetchone()
        return _row(record) if record else None

    def write_rows(self, rows: Sequence[OperatorRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT OR REPLACE INTO {TABLE} ({COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        str(row.id), row.user_id, row.amount, row.currency, row.status,
                        row.charge_status, row.refunded_amount, row.course_id, row.intent_id,
                        sqlite_stamp(row.created_at), sqlite_stamp(row.updated_at),
                    )
                    for row in rows
                ],
            )  # fmt: skip
            self._insert_tracking(c, tracking)

    def search(self, query: PaymentQuery) -> OperatorPage:
        with self.datastore.transaction(commit=False) as c:
            c.execute(*count_sql(query, "?", sqlite_stamp, str))
            counted = int(c.fetchone()[0])
            c.execute(*page_sql(query, "?", sqlite_stamp, str))
            rows = [_row(r) for r in c.fetchall()]
        return found(counted, rows)

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {TABLE}")
            c.execute("DELETE FROM tracking WHERE application_name != '__migration__'")

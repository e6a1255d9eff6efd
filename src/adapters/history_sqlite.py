"""Payment history read model in SQLite, for the embedded default."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from application.history import CountDeltas, HistoryView
from application.ports import HistoryPage, HistoryRow

COLUMNS = (
    "id, user_id, amount, currency, status, charge_status, refunded_amount, course_id, "
    "created_at, updated_at"
)


def sqlite_stamp(moment: datetime) -> str:
    """UTC with microseconds, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _row(record: Any) -> HistoryRow:
    return HistoryRow(
        id=UUID(record["id"]),
        user_id=record["user_id"],
        amount=record["amount"],
        currency=record["currency"],
        status=record["status"],
        charge_status=record["charge_status"],
        refunded_amount=record["refunded_amount"],
        course_id=record["course_id"],
        created_at=datetime.fromisoformat(record["created_at"]),
        updated_at=datetime.fromisoformat(record["updated_at"]),
    )


class SQLiteHistoryView(SQLiteTrackingRecorder, HistoryView):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS payment_history ("
            "id TEXT PRIMARY KEY, user_id TEXT NOT NULL, amount INTEGER NOT NULL, "
            "currency TEXT NOT NULL, status TEXT NOT NULL, charge_status TEXT NOT NULL, "
            "refunded_amount INTEGER NOT NULL, course_id TEXT, "
            "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS payment_history_user_created "
            "ON payment_history (user_id, created_at DESC, id DESC)",
            "CREATE INDEX IF NOT EXISTS payment_history_user_status_created "
            "ON payment_history (user_id, status, created_at DESC, id DESC)",
            "CREATE TABLE IF NOT EXISTS payment_counts (user_id TEXT, status TEXT, "
            "n INTEGER NOT NULL, PRIMARY KEY (user_id, status)) WITHOUT ROWID",
        ]

    def read_row(self, payment_id: UUID) -> HistoryRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {COLUMNS} FROM payment_history WHERE id = ?", (str(payment_id),))
            record = c.fetchone()
        return _row(record) if record else None

    def write_rows(
        self, rows: Sequence[HistoryRow], count_deltas: CountDeltas, tracking: Tracking
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT OR REPLACE INTO payment_history ({COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        str(row.id), row.user_id, row.amount, row.currency, row.status,
                        row.charge_status, row.refunded_amount, row.course_id,
                        sqlite_stamp(row.created_at), sqlite_stamp(row.updated_at),
                    )
                    for row in rows
                ],
            )  # fmt: skip
            c.executemany(
                "INSERT INTO payment_counts (user_id, status, n) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, status) DO UPDATE SET n = n + excluded.n",
                [(user, status, n) for (user, status), n in count_deltas.items()],
            )
            self._insert_tracking(c, tracking)

    def page(self, user_id: str, *, limit: int, offset: int, status: str | None) -> HistoryPage:
        where, params = "user_id = ?", [user_id]
        if status is not None:
            where, params = "user_id = ? AND status = ?", [user_id, status]
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COALESCE(SUM(n), 0) FROM payment_counts WHERE {where}", params)
            total = int(c.fetchone()[0])
            c.execute(
                f"SELECT {COLUMNS} FROM payment_history WHERE {where} "
                "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
            rows = [_row(r) for r in c.fetchall()]
        return HistoryPage(items=rows, total=total)

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("DELETE FROM payment_history")
            c.execute("DELETE FROM payment_counts")
            c.execute("DELETE FROM tracking WHERE application_name != '__migration__'")

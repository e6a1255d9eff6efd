"""Raw reads of the history view's tables, for comparing a rebuild with the live view."""

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from tests.generated import Expected

Snapshot = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]


def snapshot(env: dict[str, str]) -> Snapshot:
    """Every row and count of the history view, and its tracking position."""
    rows_sql = "SELECT * FROM payment_history ORDER BY id"
    counts_sql = "SELECT * FROM payment_counts ORDER BY user_id, status"
    if url := env.get("PAYMENTS_DATABASE_URL"):
        with psycopg.connect(url) as db:
            position = db.execute("SELECT max(notification_id) FROM history_tracking").fetchone()
            return (
                db.execute(rows_sql).fetchall(),
                db.execute(counts_sql).fetchall(),
                int(position[0] or 0) if position else 0,
            )
    with sqlite3.connect(Path(env["PAYMENTS_DATA_DIR"]) / "history.db") as lite:
        position = lite.execute(
            "SELECT max(notification_id) FROM tracking WHERE application_name = 'payments'"
        ).fetchone()
        return (
            lite.execute(rows_sql).fetchall(),
            lite.execute(counts_sql).fetchall(),
            int(position[0] or 0),
        )


def position(env: dict[str, str]) -> int:
    """The history view's tracking position alone: cheap enough to poll."""
    if url := env.get("PAYMENTS_DATABASE_URL"):
        with psycopg.connect(url) as db:
            row = db.execute("SELECT max(notification_id) FROM history_tracking").fetchone()
            return int(row[0] or 0) if row else 0
    return snapshot(env)[2]


def assert_exact(view: Snapshot, expected: Expected) -> None:
    """One row per payment with its final status and refunds; counts add up; no more."""
    rows, counts, _ = view
    by_id = {str(row[0]): row for row in rows}
    assert len(rows) == len(by_id) == len(expected.status)
    assert {k: (r[4], r[6]) for k, r in by_id.items()} == {
        str(pid): (expected.status[pid], expected.refunded[pid]) for pid in expected.status
    }
    totals: dict[str, int] = {}
    for _, status, n in counts:
        totals[status] = totals.get(status, 0) + n
    assert {s: n for s, n in totals.items() if n} == dict(expected.counts())

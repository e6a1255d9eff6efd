"""The audit hash chain in SQLite, in its own file beside the event store."""

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from adapters.hash_chain import HashChainView, Link


def _link(record: Any) -> Link:
    return Link(record[0], record[1], record[2], record[3])


class SQLiteHashChain(SQLiteTrackingRecorder, HashChainView):
    """The chain's links and tracking in one SQLite file."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS audit_chain (position INTEGER PRIMARY KEY, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "digest TEXT NOT NULL)",
        ]

    def last_link(self) -> Link | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT position, originator_id, originator_version, digest FROM audit_chain "
                "ORDER BY position DESC LIMIT 1"
            )
            record = c.fetchone()
        return _link(record) if record else None

    def append(self, links: Sequence[Link], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                "INSERT INTO audit_chain VALUES (?, ?, ?, ?)",
                [(k.position, k.originator_id, k.originator_version, k.digest) for k in links],
            )
            self._insert_tracking(c, tracking)

    def links_after(self, position: int, limit: int) -> list[Link]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT position, originator_id, originator_version, digest FROM audit_chain "
                "WHERE position > ? ORDER BY position LIMIT ?",
                (position, limit),
            )
            return [_link(r) for r in c.fetchall()]

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("DELETE FROM audit_chain")
            c.execute("DELETE FROM tracking WHERE application_name != '__migration__'")

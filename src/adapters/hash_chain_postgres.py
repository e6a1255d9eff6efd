"""The audit hash chain in PostgreSQL; its table comes from migrations/."""

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

from adapters.hash_chain import HashChainView, Link

SELECT = "SELECT position, originator_id, originator_version, digest FROM audit_chain"


def _link(record: Any) -> Link:
    return Link(
        record["position"], record["originator_id"], record["originator_version"], record["digest"]
    )


class PostgresHashChain(PostgresTrackingRecorder, HashChainView):
    """The chain's links and tracking in the service's PostgreSQL database."""

    def last_link(self) -> Link | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{SELECT} ORDER BY position DESC LIMIT 1")
            record = c.fetchone()
        return _link(record) if record else None

    def append(self, links: Sequence[Link], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(  # one statement for the whole batch
                "INSERT INTO audit_chain SELECT * FROM unnest("
                "%s::bigint[], %s::text[], %s::integer[], %s::text[])",
                [
                    [k.position for k in links], [k.originator_id for k in links],
                    [k.originator_version for k in links], [k.digest for k in links],
                ],
            )  # fmt: skip
            self._insert_tracking(c, tracking)

    def links_after(self, position: int, limit: int) -> list[Link]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{SELECT} WHERE position > %s ORDER BY position LIMIT %s", (position, limit))
            return [_link(r) for r in c.fetchall()]

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("TRUNCATE audit_chain")
            c.execute(
                f"DELETE FROM {self.tracking_table_name} WHERE application_name != '__migration__'"
            )

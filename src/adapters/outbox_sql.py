"""The outbox's queries, the same on SQLite and PostgreSQL but for their placeholders."""

from collections.abc import Sequence

from adapters.outbox_view import COLUMNS


def due(endpoints: Sequence[str], p: str, *, busy: int = 0) -> str:
    """The oldest due row whose payment has nothing earlier unacknowledged at that endpoint."""
    listed = ", ".join([p] * len(endpoints))
    not_busy = (
        f"AND (o.event_id || '|' || o.endpoint) NOT IN ({', '.join([p] * busy)}) " if busy else ""
    )
    return (
        f"SELECT {', '.join('o.' + c.strip() for c in COLUMNS.split(','))} "
        "FROM event_outbox o "
        f"WHERE o.status = 'pending' AND o.next_attempt_at <= {p} AND o.endpoint IN ({listed}) "
        f"{not_busy}"
        "AND NOT EXISTS (SELECT 1 FROM event_outbox e WHERE e.endpoint = o.endpoint "
        "AND e.payment_id = o.payment_id AND e.sequence < o.sequence AND e.status <> 'delivered') "
        "ORDER BY o.next_attempt_at, o.position LIMIT 1"
    )


def insert(p: str) -> str:
    return (
        "INSERT INTO event_outbox (event_id, endpoint, type, payment_id, sequence, "
        "refund_number, position, occurred_at, next_attempt_at) "
        f"VALUES ({', '.join([p] * 9)}) ON CONFLICT (event_id, endpoint) DO NOTHING"
    )


def settle(p: str) -> str:
    return (
        f"UPDATE event_outbox SET status = {p}, attempts = attempts + 1, "
        f"first_attempt_at = COALESCE(first_attempt_at, {p}), last_attempt_at = {p}, "
        f"next_attempt_at = COALESCE({p}, next_attempt_at), last_error = {p}, "
        f"delivered_at = {p} "
        f"WHERE event_id = {p} AND endpoint = {p}"
    )


def redeliver(p: str, *, by_id: bool) -> str:
    where = f"event_id = {p}" if by_id else f"occurred_at >= {p}"
    return (
        f"UPDATE event_outbox SET status = 'pending', attempts = 0, first_attempt_at = NULL, "
        f"next_attempt_at = {p}, last_error = NULL, delivered_at = NULL WHERE {where}"
    )


def listing(p: str, *, parked_only: bool) -> str:
    where = "WHERE status = 'parked' " if parked_only else ""
    return f"SELECT {COLUMNS} FROM event_outbox {where}ORDER BY position DESC, endpoint LIMIT {p}"


def oldest_waiting(endpoints: Sequence[str], p: str) -> str:
    """When the oldest event a receiver still waits for happened (parked ones aside)."""
    listed = ", ".join([p] * len(endpoints))
    return (
        "SELECT MIN(o.occurred_at) AS oldest FROM event_outbox o "
        f"WHERE o.status = 'pending' AND o.endpoint IN ({listed}) "
        "AND NOT EXISTS (SELECT 1 FROM event_outbox e WHERE e.endpoint = o.endpoint "
        "AND e.payment_id = o.payment_id AND e.sequence < o.sequence AND e.status = 'parked')"
    )


PARKED = "SELECT COUNT(*) AS parked FROM event_outbox WHERE status = 'parked'"


def stranded(endpoints: Sequence[str], p: str) -> str:
    """Rows not yet delivered whose endpoint is not one of these."""
    configured = f"AND endpoint NOT IN ({', '.join([p] * len(endpoints))})" if endpoints else ""
    return f"SELECT COUNT(*) AS stranded FROM event_outbox WHERE status <> 'delivered' {configured}"


# Parameters of each: (old, new).
_AT_NEW = (
    "EXISTS (SELECT 1 FROM event_outbox n WHERE n.event_id = event_outbox.event_id "
    "AND n.endpoint = {p})"
)


def late(p: str) -> str:
    """Rows to move whose payment has a later event delivered at the new endpoint already."""
    return (
        "SELECT COUNT(*) AS late FROM event_outbox "
        f"WHERE endpoint = {p} AND status <> 'delivered' AND NOT {_AT_NEW.format(p=p)} "
        "AND EXISTS (SELECT 1 FROM event_outbox d WHERE d.endpoint = "
        f"{p} AND d.payment_id = event_outbox.payment_id "
        "AND d.sequence > event_outbox.sequence AND d.status = 'delivered')"
    )


def move(p: str) -> str:
    """Rows not yet delivered of one endpoint, given to another that lacks them, due now; a
    parked row is tried afresh. Parameters: (new, now, old, new)."""
    return (
        f"UPDATE event_outbox SET endpoint = {p}, status = 'pending', attempts = 0, "
        f"first_attempt_at = NULL, next_attempt_at = {p}, last_error = NULL "
        f"WHERE endpoint = {p} AND status <> 'delivered' AND NOT {_AT_NEW.format(p=p)}"
    )


def drop_copies(p: str) -> str:
    """The old endpoint's undelivered rows whose event the new one has. Parameters: (old, new)."""
    return (
        f"DELETE FROM event_outbox WHERE endpoint = {p} AND status <> 'delivered' "
        f"AND {_AT_NEW.format(p=p)}"
    )

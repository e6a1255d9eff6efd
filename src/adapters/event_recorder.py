"""The event store's PostgreSQL recorder, inserting in one round trip.

eventsourcing's recorder inserts a save's events as a pipeline of statements: BEGIN, SET LOCAL
lock_timeout, LOCK TABLE ... IN EXCLUSIVE MODE, NOTIFY, INSERT ... RETURNING, COMMIT, with
several synchronisations between client and server. This one calls a function that runs the
same statements on the server, inside the single transaction of one autocommitted statement:
the table lock is still taken before the notification ids are drawn and held until the commit,
so notification order is still commit order and readers of the log never pass over a gap.
Everything else (reads, the notification log, tables, errors) is the library's.
"""

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Composed, Identifier

FUNCTION = """CREATE OR REPLACE FUNCTION {function}(
    ids uuid[], versions bigint[], topics text[], states bytea[], lock_timeout text
) RETURNS SETOF bigint LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM set_config('lock_timeout', lock_timeout, true);
    LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;
    NOTIFY {channel};
    RETURN QUERY
        INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(ids, versions, topics, states)
        RETURNING notification_id;
END
$body$;"""


def stored_event(row: Mapping[str, Any]) -> StoredEvent:
    """A row of the events table (as a dict) as the library's StoredEvent."""
    return StoredEvent(
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


class OneTripApplicationRecorder(PostgresApplicationRecorder):
    """PostgresApplicationRecorder whose insert_events is one call of a server function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.insert_function = f"{self.events_table_name.replace('.', '_')}_insert"
        self.sql_create_statements.append(self.create_function_statement())
        # Rendered once: psycopg renders composed SQL anew at each execution.
        self.insert_call = (
            SQL("SELECT * FROM {schema}.{function}")
            .format(
                schema=Identifier(self.datastore.schema), function=Identifier(self.insert_function)
            )
            .as_string()
        )
        self.insert_statements: dict[int, str] = {}
        self.select_aggregate_statement = (
            self.select_events_statement + SQL(" ORDER BY originator_version ASC")
        ).as_string()
        # Several aggregates' events in one query (the awaited store's grouped reads).
        self.select_aggregates_statement = (
            SQL("SELECT * FROM {schema}.{table} WHERE originator_id = ANY(%s)")
            .format(
                schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
            )
            .as_string()
            + " ORDER BY originator_id, originator_version"
        )
        self.lock_timeout = f"{self.datastore.lock_timeout}s"

    def _insert_statement(self, count: int) -> str:
        """The call for `count` events: arrays of scalar parameters, cheaper to send than lists."""
        statement = self.insert_statements.get(count)
        if statement is None:
            arrays = [
                f"ARRAY[{', '.join(['%s'] * count)}]::{kind}[]"
                for kind in ("uuid", "bigint", "text", "bytea")
            ]
            statement = f"{self.insert_call}({', '.join(arrays)}, %s)"
            self.insert_statements[count] = statement
        return statement

    def create_function_statement(self) -> Composed:
        return SQL(FUNCTION).format(
            function=Identifier(self.datastore.schema, self.insert_function),
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            channel=Identifier(self.channel_name),
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """An aggregate's events; the common case (all of them, in order) with prepared SQL."""
        if gt is not None or lte is not None or desc or limit is not None:
            events: Sequence[StoredEvent] = super().select_events(
                originator_id, gt=gt, lte=lte, desc=desc, limit=limit
            )
            return events
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_aggregate_statement, (originator_id,), prepare=True)
            return [stored_event(row) for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        statement, params = self.insert_call_for(stored_events)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return sorted(row[self.insert_function] for row in curs.fetchall())

    def insert_call_for(self, stored_events: Sequence[StoredEvent]) -> tuple[str, list[Any]]:
        """The insert function's call for these events, and its parameters."""
        params = [
            *(e.originator_id for e in stored_events),
            *(e.originator_version for e in stored_events),
            *(e.topic for e in stored_events),
            *(e.state for e in stored_events),
            self.lock_timeout,
        ]
        return self._insert_statement(len(stored_events)), params

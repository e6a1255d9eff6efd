"""Is the database schema as new as this version's migrations? Asked at start and by readiness."""

from collections.abc import Callable, Sequence

import psycopg

from adapters.migrations import Migration, shipped_migrations, version_of

CONNECT_TIMEOUT_SECONDS = 5


class SchemaNotReady(Exception):
    """The database lacks migrations this version ships; the message says what to run."""


class SchemaUnknown(Exception):
    """PostgreSQL did not answer, so the schema could not be checked."""


def _applied(database_url: str) -> set[str] | None:
    """The migrations recorded as applied; None when `migrate` never ran."""
    try:
        with psycopg.connect(database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            table = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            if table is None or table[0] is None:
                return None
            return {str(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}
    except psycopg.OperationalError as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SchemaUnknown(f"cannot reach PostgreSQL to check the schema: {reason}") from error


def check_schema(database_url: str, shipped: Sequence[Migration]) -> None:
    """Raise SchemaNotReady unless every shipped migration is recorded as applied.

    A database ahead of this version (migrated by a newer one) is fine: migrations only add.
    """
    newest = shipped[-1].version
    applied = _applied(database_url)
    if applied is None:
        raise SchemaNotReady(
            f"database schema was never migrated, this version needs {newest}: "
            "run payment-service migrate"
        )
    missing = [m.name for m in shipped if m.name not in applied]
    if not missing:
        return
    at = max((version_of(name) for name in applied), default="none")
    if at < newest:
        raise SchemaNotReady(
            f"database schema is at {at}, this version needs {newest}: run payment-service migrate"
        )
    raise SchemaNotReady(
        f"database schema is at {at} but lacks {', '.join(missing)}: run payment-service migrate"
    )


class SchemaProbe:
    """Readiness: the database schema is at least as new as the migrations shipped."""

    name = "schema"

    def __init__(
        self, database_url: str, shipped: Callable[[], Sequence[Migration]] = shipped_migrations
    ) -> None:
        self._database_url = database_url
        self._shipped = shipped

    def check(self) -> None:
        check_schema(self._database_url, self._shipped())


def schema_probe(database_url: str | None) -> SchemaProbe | None:
    """On PostgreSQL only: SQLite's tables are made by the process that opens them."""
    return SchemaProbe(database_url) if database_url else None

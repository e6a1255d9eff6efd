"""Versioned SQL files, shipped in the `migrations` package, applied to PostgreSQL once each."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources

import psycopg

LOCK_KEY = 7_303_000_001  # pg_advisory_xact_lock key: one migrator at a time
# Held by `migrate` for its whole run, the event store's and projections' own tables included
# (the library makes those with CREATE TABLE IF NOT EXISTS, which two sessions at once break).
RUN_KEY = 7_303_000_002
PACKAGE = "migrations"
FOLDER = "postgres"
REINSTALL = "this installation lacks its SQL: reinstall payment-service"


@dataclass(frozen=True)
class Migration:
    name: str  # the file name, e.g. 0002_audit_chain.sql; recorded in schema_migrations
    sql: str

    @property
    def version(self) -> str:
        return version_of(self.name)


class MigrationsMissing(Exception):
    """This installation has no migration files: the package was built without its SQL."""


def version_of(name: str) -> str:
    return name.split("_", 1)[0].removesuffix(".sql")


def shipped_migrations(package: str = PACKAGE) -> list[Migration]:
    """The SQL files this version ships, in name order; never empty."""
    try:
        folder = resources.files(package) / FOLDER
    except ModuleNotFoundError:
        raise MigrationsMissing(
            f"no migration files: the package {package!r} is not installed; {REINSTALL}"
        ) from None
    entries = folder.iterdir() if folder.is_dir() else iter(())
    files = sorted((e for e in entries if e.name.endswith(".sql")), key=lambda e: e.name)
    if not files:
        raise MigrationsMissing(f"no migration files (*.sql) in {folder}; {REINSTALL}")
    return [Migration(entry.name, entry.read_text(encoding="utf-8")) for entry in files]


@contextmanager
def one_migrator(database_url: str, waiting: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Wait until no other `migrate` runs against this database (calling `waiting` first if
    one does), and hold it off until done."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        free = conn.execute("SELECT pg_try_advisory_lock(%s)", (RUN_KEY,)).fetchone()
        if not (free and free[0]):
            waiting()
            conn.execute("SELECT pg_advisory_lock(%s)", (RUN_KEY,))
        yield  # closing the connection releases the lock, whatever happened meanwhile


def apply_migrations(database_url: str, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded in schema_migrations; returns their names."""
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in migrations:
            if migration.name in done:
                continue
            conn.execute(migration.sql)  # type: ignore[call-overload]
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (migration.name,))
            applied.append(migration.name)
        conn.commit()
    return applied

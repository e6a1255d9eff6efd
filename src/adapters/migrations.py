"""Applies versioned SQL files to PostgreSQL, each once, in name order."""

from pathlib import Path

import psycopg

LOCK_KEY = 7_303_000_001  # pg_advisory_xact_lock key: one migrator at a time


def apply_migrations(database_url: str, directory: Path) -> list[str]:
    """Apply the files not yet recorded in schema_migrations; returns their names."""
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for path in sorted(directory.glob("*.sql")):
            if path.name in done:
                continue
            conn.execute(path.read_text())  # type: ignore[call-overload]
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.name,))
            applied.append(path.name)
        conn.commit()
    return applied

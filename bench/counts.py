"""What one request costs in work done elsewhere: SQL statements, Redis commands, log lines, bytes.

Read before and after a workload, divided by its requests:
- SQL statements from pg_stat_statements (PostgreSQL must preload it:
  `ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'` and a restart), for the
  bench database only, with the statements that ran most;
- Redis commands from INFO commandstats, by command;
- WAL bytes PostgreSQL wrote (pg_current_wal_lsn), and log lines and bytes the service wrote.
Every figure includes the projection worker's share, since it runs beside the service.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis

TOP_STATEMENTS = 25


@dataclass
class Snapshot:
    statements: dict[str, tuple[int, float]] | None  # calls and milliseconds, by statement
    redis_commands: dict[str, int]
    wal_lsn: int
    log_lines: int
    log_bytes: int


class RequestCounts:
    """Counters of one bench database, Redis server and service log file."""

    def __init__(self, database_url: str, redis_url: str, log_file: Path) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.log_file = log_file
        self.statements_missing: str | None = None
        with psycopg.connect(database_url, autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                conn.execute("SELECT count(*) FROM pg_stat_statements")
            except psycopg.Error as error:
                self.statements_missing = str(error).splitlines()[0]

    def snapshot(self) -> Snapshot:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            lsn = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
            statements = None
            if self.statements_missing is None:
                rows = conn.execute(
                    "SELECT query, sum(calls)::bigint, sum(total_exec_time) FROM pg_stat_statements"
                    " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    " GROUP BY query"
                ).fetchall()
                statements = {query: (int(calls), float(ms)) for query, calls, ms in rows}
        client = redis.Redis.from_url(self.redis_url)
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        commands = {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if isinstance(value, dict)
        }
        data = self.log_file.read_bytes() if self.log_file.exists() else b""
        return Snapshot(
            statements=statements,
            redis_commands=commands,
            wal_lsn=int(lsn[0]) if lsn else 0,
            log_lines=data.count(b"\n"),
            log_bytes=len(data),
        )

    def per_request(self, before: Snapshot, after: Snapshot, requests: int) -> dict[str, Any]:
        n = max(requests, 1)
        commands = {
            name: calls - before.redis_commands.get(name, 0)
            for name, calls in after.redis_commands.items()
        }
        # the snapshot's own INFO call is not the service's
        commands["info"] = commands.get("info", 0) - 1
        commands = {name: calls for name, calls in commands.items() if calls > 0}
        counts: dict[str, Any] = {
            "redis_commands": round(sum(commands.values()) / n, 2),
            "redis_by_command": {k: round(v / n, 2) for k, v in sorted(commands.items())},
            "wal_bytes": round((after.wal_lsn - before.wal_lsn) / n),
            "log_lines": round((after.log_lines - before.log_lines) / n, 2),
            "log_bytes": round((after.log_bytes - before.log_bytes) / n),
        }
        if before.statements is None or after.statements is None:
            counts["sql_statements"] = None
            counts["sql_unavailable"] = self.statements_missing
            return counts
        ran = {
            query: (calls - before.statements.get(query, (0, 0.0))[0],
                    ms - before.statements.get(query, (0, 0.0))[1])
            for query, (calls, ms) in after.statements.items()
        }  # fmt: skip
        ran = {query: done for query, done in ran.items() if done[0] > 0 and _service(query)}
        counts["sql_statements"] = round(sum(calls for calls, _ in ran.values()) / n, 2)
        counts["sql_ms"] = round(sum(ms for _, ms in ran.values()) / n, 3)
        counts["sql_top"] = [
            {
                "per_request": round(calls / n, 2),
                "ms_per_request": round(ms / n, 3),
                "query": " ".join(query.split())[:150],
            }
            for query, (calls, ms) in sorted(ran.items(), key=lambda item: -item[1][1])[
                :TOP_STATEMENTS
            ]
        ]
        return counts


def _service(query: str) -> bool:
    """Leave out the counters' own statements."""
    return "pg_stat_statements" not in query and "pg_current_wal_lsn" not in query

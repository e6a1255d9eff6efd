"""What the hardware itself does: PostgreSQL's commit rate and the bare history query."""

import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.seed import HEAVY_USER

HISTORY_SQL = (
    "SELECT id, user_id, amount, currency, status, charge_status, refunded_amount, course_id, "
    "created_at, updated_at FROM payment_history WHERE user_id = %s "
    "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s"
)
COUNT_SQL = "SELECT COALESCE(SUM(n), 0) FROM payment_counts WHERE user_id = %s"


SINGLE_ROW = "INSERT INTO bench_commits (payload) VALUES ('payment');\n"
# What an event store that keeps its notification log gap-free must do: eventsourcing's
# PostgreSQL recorder takes this lock for every insert, so commits cannot overlap.
SERIALIZED = (
    "BEGIN;\nLOCK TABLE bench_commits IN EXCLUSIVE MODE;\n"
    "INSERT INTO bench_commits (payload) VALUES ('payment');\nCOMMIT;\n"
)


def pgbench_commit_rate(
    database_url: str, clients: int, seconds: int, script_text: str = SINGLE_ROW
) -> float:
    """Single-row INSERT + COMMIT transactions per second at `clients` concurrency."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_commits")
        conn.execute("CREATE TABLE bench_commits (id bigserial PRIMARY KEY, payload text)")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "insert.sql"
        script.write_text(script_text)
        output = subprocess.run(
            [
                "pgbench",
                "-n",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-f",
                str(script),
                "-d",
                database_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    match = re.search(r"tps = ([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def direct_history_query(database_url: str, offset: int, repeats: int) -> dict[str, float]:
    """The history page and its total, run straight in PostgreSQL: p50/p99 in ms."""
    timings = []
    with psycopg.connect(database_url) as conn:
        for _ in range(repeats):
            started = time.perf_counter()
            conn.execute(COUNT_SQL, (HEAVY_USER,)).fetchone()
            conn.execute(HISTORY_SQL, (HEAVY_USER, 20, offset)).fetchall()
            timings.append(time.perf_counter() - started)
    timings.sort()
    return {
        "p50_ms": round(statistics.median(timings) * 1000, 2),
        "p99_ms": round(timings[min(len(timings) - 1, int(0.99 * len(timings)))] * 1000, 2),
    }

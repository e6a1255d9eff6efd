"""How fast the console's search is over 1,000,000 payments in PostgreSQL.

    .venv/bin/python -m bench.operator_search [N] [postgresql://.../postgres]

Makes a fresh database, applies migrations/, seeds N rows straight into the operator read
model (10 payments per user, one user with 10,000, 1,000 courses, a year of dates, 85 %
succeeded), then times each kind of search the console makes through the real view (its
count and its first page) and prints PostgreSQL's plan for each.
"""

import hashlib
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import psycopg

from adapters.eventstore import persistence_env
from adapters.history_views import close_view, operator_view
from adapters.migrations import apply_migrations, shipped_migrations
from adapters.operator_sql import count_sql, page_sql
from application.operator_projection import OperatorView
from application.operator_search import PaymentQuery, payment_query

SEED = """
INSERT INTO operator_payments
SELECT md5('p' || n)::uuid,
       CASE WHEN n <= 10000 THEN 'user-heavy' ELSE 'user-' || (n / 10) END,
       1000 + n %% 9000, 'usd',
       CASE WHEN n %% 20 = 0 THEN 'failed' WHEN n %% 20 = 1 THEN 'partially_refunded'
            WHEN n %% 20 = 2 THEN 'pending' ELSE 'succeeded' END,
       CASE WHEN n %% 20 = 0 THEN 'failed' WHEN n %% 20 = 2 THEN 'pending' ELSE 'succeeded' END,
       CASE WHEN n %% 20 = 1 THEN 100 ELSE 0 END,
       'course-' || (n %% 1000), 'pi_' || md5('i' || n),
       timestamptz '2026-01-01' + (n * interval '31.536 seconds'),
       timestamptz '2026-01-01' + (n * interval '31.536 seconds')
FROM generate_series(1, %s) AS n
"""


def searches(count: int) -> dict[str, PaymentQuery]:
    middle = count // 2
    return {
        "everything, newest first": payment_query(),
        "everything, page 400": payment_query(offset=399 * 25),
        "status failed": payment_query(status="failed"),
        "status succeeded (85 %)": payment_query(status="succeeded"),
        "payment id": payment_query(str(uuid.UUID(_md5(f"p{middle}")))),
        "PaymentIntent id": payment_query(f"pi_{_md5(f'i{middle}')}"),
        "user id (10 payments)": payment_query(f"user-{middle // 10}"),
        "user id (10,000 payments)": payment_query("user-heavy"),
        "course id (1,000 payments)": payment_query("course-7"),
        "one day, succeeded": payment_query(
            status="succeeded", created_from=date(2026, 6, 1), created_to=date(2026, 6, 1)
        ),
    }


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - the seed's ids, not security


def main(count: int, server_url: str) -> None:
    name = f"bench_operator_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlparse(server_url)._replace(path=f"/{name}").geturl()
    try:
        apply_migrations(url, shipped_migrations())
        with psycopg.connect(url, autocommit=True) as db:
            started = time.perf_counter()
            db.execute(SEED, (count,))  # type: ignore[call-overload]
            db.execute("VACUUM ANALYZE operator_payments")
            print(f"seeded {count:,} rows in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            view = operator_view(persistence_env(url, Path(tmp) / "unused.db"))
            with psycopg.connect(url) as db:
                for label, query in searches(count).items():
                    report(label, query, view, db)
            close_view(view)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def same(value: object) -> object:
    return value


def report(label: str, query: PaymentQuery, view: OperatorView, db: psycopg.Connection) -> None:
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        page = view.search(query)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(
        f"\n{label}: {page.total:,}{'+' if page.more else ''} found; search (count + page of 25) "
        f"median {statistics.median(timings):.1f} ms, p95 {timings[18]:.1f} ms"
    )
    for sql, args in (
        page_sql(query, "%s", same, same),
        count_sql(query, "%s", same, same),
    ):
        plan = db.execute(f"EXPLAIN (ANALYZE, BUFFERS OFF) {sql}", args).fetchall()  # type: ignore[call-overload]
        print("  " + "\n  ".join(str(line[0]) for line in plan))


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000,
        sys.argv[2] if len(sys.argv) > 2 else "postgresql://postgres@127.0.0.1:5432/postgres",
    )

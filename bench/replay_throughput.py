"""Rebuild throughput of the history view: events per second, on SQLite or PostgreSQL.

    .venv/bin/python -m bench.replay_throughput [--payments 10000] [--database-url URL]

With a URL the database must be migrated and empty (its event log is written to).
"""

import argparse
import tempfile
import time
from pathlib import Path

from tests.generated import generate

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.history_views import history_view
from adapters.projection_runner import PollingProjectionRunner
from application.history import PaymentHistoryProjection


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp())
    store = EventSourcedPaymentStore.from_env(
        persistence_env(args.database_url, directory / "events.db", pool_size=2)
    )
    view = history_view(persistence_env(args.database_url, directory / "history.db", pool_size=2))
    runner = PollingProjectionRunner(store.app, PaymentHistoryProjection(view=view), view)
    started = time.perf_counter()
    generate(store, args.payments)
    written = time.perf_counter() - started
    started = time.perf_counter()
    events = runner.rebuild()
    rebuilt = time.perf_counter() - started
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"{backend}: {args.payments} payments, {events} events written in {written:.1f}s; "
        f"rebuilt in {rebuilt:.1f}s = {events / rebuilt:,.0f} events/s"
    )
    store.close()


if __name__ == "__main__":
    main()

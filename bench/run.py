"""One command for every benchmark: `make bench` (or `python -m bench.run --scale small`).

Starts the service on PostgreSQL and Redis with one worker per core (and the projection
worker beside it), drives it over loopback, measures baselines in the same run, prints the
figures with their ratios and writes JSON and a PNG chart under bench/results/.
"""

import argparse
import os
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.history_views import history_view
from adapters.projection_runner import PollingProjectionRunner
from application.history import PaymentHistoryProjection
from bench import baselines, seed, stripe_workload, workloads
from bench.counts import RequestCounts
from bench.loadgen import build_request, run_load
from bench.report import print_report, write_outputs
from bench.servers import BIN, minimal_command, running, service_command
from entrypoints.schema import migrate_schema
from entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SCALES = {
    "full": {
        "requests": 4000,
        "history_rows": 1_000_000,
        "heavy_rows": 10_000,
        "history_requests": 400,
        "replay_events": 1_000_000,
        "pgbench_seconds": 15,
        "stripe_requests_per_client": 12,
    },
    "small": {
        "requests": 300,
        "history_rows": 20_000,
        "heavy_rows": 10_000,
        "history_requests": 100,
        "replay_events": 20_000,
        "pgbench_seconds": 3,
        "stripe_requests_per_client": 2,
    },
}


def fresh_database(server_url: str, data_dir: Path) -> str:
    """A new database with the schema `payment-service migrate` makes."""
    name = f"payments_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlparse(server_url)._replace(path=f"/{name}").geturl()
    env = {
        "PAYMENTS_DATABASE_URL": url,
        "PAYMENTS_DATA_DIR": str(data_dir),
        "PAYMENTS_JWT_SECRET": workloads.JWT_SECRET,
        "STRIPE_WEBHOOK_SECRET": workloads.WEBHOOK_SECRET,
    }
    migrate_schema(Settings.from_env(env))
    return url


def drop_database(server_url: str, url: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{urlparse(url).path[1:]}" WITH (FORCE)')


def measure_replay(database_url: str, events: int, folder: Path) -> dict[str, Any]:
    env = persistence_env(database_url, folder / "unused.db")
    store = EventSourcedPaymentStore.from_env(env)
    started = time.perf_counter()
    written = seed.seed_events(store, events)
    seeded = time.perf_counter() - started
    view = history_view(env)
    view.clear()
    runner = PollingProjectionRunner(store.app, PaymentHistoryProjection(view=view), view)
    started = time.perf_counter()
    while runner.run_once():
        pass
    elapsed = time.perf_counter() - started
    store.close()
    return {
        "events": written,
        "seconds": round(elapsed, 2),
        "events_per_second": round(written / elapsed),
        "seed_events_per_second": round(written / seeded),
    }


def catch_up_seconds(database_url: str, folder: Path, limit: float = 30.0) -> float | None:
    """From the end of a load until the history projection has taken in the whole log."""
    env = persistence_env(database_url, folder / "unused.db", create_tables=False)
    store = EventSourcedPaymentStore.from_env(env)
    view = history_view(env)
    started = time.perf_counter()
    try:
        newest = store.app.recorder.max_notification_id() or 0
        while (view.max_tracking_id(store.app.name) or 0) < newest:
            if time.perf_counter() - started > limit:
                return None
            time.sleep(0.01)
        return round(time.perf_counter() - started, 3)
    finally:
        store.close()


def counted(counts: RequestCounts, database_url: str, folder: Path, load: Any) -> dict[str, Any]:
    """Run `load()`; its summary with the per-request counts and the projection's catch-up."""
    before = counts.snapshot()
    result = load()
    caught_up = catch_up_seconds(database_url, folder)
    after = counts.snapshot()
    summary: dict[str, Any] = result.summary()
    summary["history_caught_up_s"] = caught_up
    summary["per_request"] = counts.per_request(before, after, len(result.latencies))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=SCALES, default="full")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--only", nargs="*", default=["charges", "stripe", "webhooks", "history", "replay"]
    )
    parser.add_argument(
        "--loop", choices=["auto", "uvloop", "asyncio"], default="auto", help="serve --loop"
    )
    parser.add_argument("--stripe-latency", type=float, default=0.3, help="seconds per call")
    parser.add_argument("--stripe-clients", type=int, nargs="*", default=[128, 1024])
    parser.add_argument(
        "--stripe-ramp",
        type=float,
        help="seconds over which the Stripe workload's clients start (default: one latency; "
        "0: all in the same instant)",
    )
    parser.add_argument("--deadline", type=float, default=10.0, help="PAYMENTS_REQUEST_TIMEOUT")
    args = parser.parse_args()
    scale = SCALES[args.scale]
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": args.scale,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "baselines": {},
    }
    folder = Path(tempfile.mkdtemp(prefix="payments-bench-"))
    database = fresh_database(args.database_url, folder)
    try:
        for key, script in (
            ("pg_commits_per_second", baselines.SINGLE_ROW),
            ("pg_serialized_commits_per_second", baselines.SERIALIZED),
        ):
            rate = baselines.pgbench_commit_rate(
                database, args.concurrency, scale["pgbench_seconds"], script
            )
            results["baselines"][key] = round(rate, 1)
        with running(minimal_command(args.workers), {}, "/ping", ROOT) as minimal:
            load = run_load(
                "127.0.0.1",
                minimal.port,
                [b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"] * scale["requests"] * 2,
                args.concurrency,
            )
            results["baselines"]["minimal_litestar"] = load.summary()
        env = workloads.service_env(database, args.redis_url, str(folder))
        log_file = folder / "service.log"
        with ExitStack() as stack:
            command = service_command(args.workers, args.loop)
            service = stack.enter_context(running(command, env, "/health/live", folder, log_file))
            service.wait_for_listeners(args.workers)  # connections go to every worker
            stack.enter_context(
                running([str(BIN / "payment-service"), "project"], env, None, folder, log_file)
            )
            base = f"http://127.0.0.1:{service.port}"
            counts = RequestCounts(database, args.redis_url, log_file)
            live = [build_request("GET", "/health/live", {})] * scale["requests"] * 4
            results["live"] = counted(
                counts,
                database,
                folder,
                lambda: run_load("127.0.0.1", service.port, live, args.concurrency),
            )
            if "charges" in args.only:
                charges = workloads.charge_requests(scale["requests"])
                results["charges"] = counted(
                    counts,
                    database,
                    folder,
                    lambda: run_load("127.0.0.1", service.port, charges, args.concurrency),
                )
            if "webhooks" in args.only:
                pending = workloads.pending_payments(base, scale["requests"])
                hooks = workloads.webhook_requests(pending)
                results["webhooks"] = counted(
                    counts,
                    database,
                    folder,
                    lambda: run_load("127.0.0.1", service.port, hooks, args.concurrency),
                )
            if "history" in args.only:
                seed.seed_history(database, scale["history_rows"], scale["heavy_rows"])
                for offset in (0, 9000):
                    pages = workloads.history_requests(
                        seed.HEAVY_USER, offset, scale["history_requests"]
                    )
                    results[f"history_offset_{offset}"] = {
                        "single_connection": run_load(
                            "127.0.0.1", service.port, pages, 1
                        ).summary(),
                        "concurrent": run_load(
                            "127.0.0.1", service.port, pages, args.concurrency
                        ).summary(),
                    }
                    results["baselines"][f"direct_query_offset_{offset}"] = (
                        baselines.direct_history_query(database, offset, scale["history_requests"])
                    )
            results["peak_rss_mb"] = {str(k): v for k, v in service.peak_rss_mb().items()}
        if "stripe" in args.only:
            results["stripe"] = stripe_workload.measure(
                env,
                folder,
                workers=args.workers,
                latency=args.stripe_latency,
                clients=args.stripe_clients,
                per_client=scale["stripe_requests_per_client"],
                timeout=args.deadline,
                loop=args.loop,
                ramp=args.stripe_latency if args.stripe_ramp is None else args.stripe_ramp,
            )
        if "replay" in args.only:
            replay_db = fresh_database(args.database_url, folder)
            try:
                results["replay"] = measure_replay(replay_db, scale["replay_events"], folder)
            finally:
                drop_database(args.database_url, replay_db)
    finally:
        drop_database(args.database_url, database)
    print_report(results)
    json_path, chart = write_outputs(results, ROOT / "bench" / "results")
    print(f"\nwrote {json_path}" + (f" and {chart}" if chart else ""))


if __name__ == "__main__":
    main()

"""What a refusal at capacity costs a worker: CPU per refused charge, beside `/health/live`.

One worker (`payment-service serve --workers 1`, embedded storage) with `PAYMENTS_MAX_IN_FLIGHT=1`
and Stripe replaced by the loopback stand-in answering after 100 s: one charge holds the only
slot, then `--requests` charges from `--clients` keep-alive connections are all refused (`503`).
The worker's CPU time (from /proc) over the count gives the cost of one. Baselines of the same
run: the same app under plain `uvicorn --http httptools`, where the outermost middleware refuses,
and `GET /health/live` on the service.

    python -m bench.refusal_cost [--requests 20000] [--clients 64]
"""

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.loadgen import build_request, run_load
from bench.servers import BIN, Server, running, service_command
from bench.stripe_workload import standin_command
from bench.workloads import JWT_SECRET, WEBHOOK_SECRET, charge_requests

ROOT = Path(__file__).resolve().parents[1]
HELD_FOR = 100.0  # seconds the stand-in takes to answer: the held charge outlasts the run


def middleware_command() -> list[str]:
    """The same app under uvicorn's own httptools protocol: refused by the middleware."""
    return [
        str(BIN / "uvicorn"), "--factory", "entrypoints.http.app:app_from_env",
        "--host", "127.0.0.1", "--port", "{port}", "--http", "httptools", "--loop", "uvloop",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cost_per_request(server: Server, requests: list[bytes], clients: int) -> dict[str, Any]:
    pid = server.worker_pids()[0]
    before = cpu_seconds(pid)
    load = run_load("127.0.0.1", server.port, requests, clients)
    used = cpu_seconds(pid) - before
    return {
        "statuses": dict(load.statuses),
        "per_second": round(load.rate, 1),
        "server_cpu_us_per_request": round(used / len(requests) * 1e6, 1),
    }


def hold_slot(port: int, hold: list[bytes]) -> None:
    """One charge in flight until the server stops (its connection then ends, as expected)."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        run_load("127.0.0.1", port, hold, 1, timeout=HELD_FOR)


def measure(requests: int, clients: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    folder = Path(tempfile.mkdtemp(prefix="payments-refusals-"))
    with running(standin_command(HELD_FOR), {}, "/health", ROOT) as standin:
        env = {
            "PAYMENTS_DATA_DIR": str(folder),
            "PAYMENTS_JWT_SECRET": JWT_SECRET,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_SECRET_KEY": "sk_test_bench_0123456789abcdef",
            "STRIPE_API_BASE": f"http://127.0.0.1:{standin.port}",
            "PAYMENTS_RATE_LIMIT_PER_MINUTE": "0",
            "PAYMENTS_MAX_IN_FLIGHT": "1",
            "PAYMENTS_REQUEST_TIMEOUT": "120",
            "PAYMENTS_RUN_PROJECTIONS": "0",
        }
        refused = charge_requests(requests, users=50, user_prefix="refused")
        live = [build_request("GET", "/health/live", {})] * requests
        for name, command in (
            ("protocol", service_command(1)),
            ("middleware", middleware_command()),
        ):
            with running(command, env, "/health/live", folder, folder / f"{name}.log") as server:
                hold = charge_requests(1, users=1, user_prefix=f"held-{name}")
                holder = threading.Thread(target=hold_slot, args=(server.port, hold), daemon=True)
                holder.start()
                time.sleep(2.0)  # the held charge is in flight, waiting on the stand-in
                results[f"refused_by_{name}"] = cost_per_request(server, refused, clients)
                if name == "protocol":
                    results["health_live"] = cost_per_request(server, live, clients)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    results = measure(args.requests, args.clients)
    baseline = results["refused_by_middleware"]["server_cpu_us_per_request"]
    for name, figures in results.items():
        cost = figures["server_cpu_us_per_request"]
        print(
            f"{name:24} {cost:7.1f} µs CPU a request  {cost / baseline:5.2f}x of the middleware's"
            f"  {figures['per_second']:8.0f} req/s  {figures['statuses']}"
        )
    refused = results["refused_by_protocol"]["statuses"]
    if set(refused) != {503}:
        sys.exit(f"not every charge was refused: {refused}")


if __name__ == "__main__":
    main()

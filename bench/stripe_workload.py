"""Charges against a loopback Stripe stand-in that answers after a latency (300 ms by default).

The service runs on PostgreSQL and Redis with STRIPE_API_BASE pointing at the stand-in; each
client count gets fresh idempotency keys. Reported beside the simulated-gateway charge rate of
the same run and the ideal (clients / latency): charges per second, p50/p99, timeouts, shed
requests (503) and how fast they were refused, and /health/live latency during the load.
A client answered 503 waits for its Retry-After (1 s) before its next request. Before the
timing, each client's user is charged once, untimed: that makes their Stripe Customer, as saving
a card does, so that each timed charge is one Stripe call, as a returning customer's is (the
ideal, clients / latency, assumes one call a charge). The timed clients start one after
another over `ramp` seconds (one latency by default), as clients arriving on their own do: all
started in the same instant, with a latency that never varies, they would stay in step, a wave
of every client at once each round. Charges per second are counted while every client is
running: from the last client's start to the first client's end.
"""

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.loadgen import build_request, run_load
from bench.servers import running, service_command
from bench.workloads import charge_requests

ROOT = Path(__file__).resolve().parents[1]
CLIENT_GIVES_UP_AFTER = 30.0
CLIENTS_PER_GENERATOR = 256  # one generator process per this many clients
# A shed client waits what its 503's Retry-After asks (1-3 s), or this long without one.
RETRY_AFTER = 1.0
LIVE = build_request("GET", "/health/live", {})
Row = tuple[str, str, str, str, str, str]


def standin_command(latency: float) -> list[str]:
    """The loopback Stripe stand-in, answering after `latency` seconds."""
    return [sys.executable, "-m", "bench.stripe_standin", "--port", "{port}", "--latency",
            str(latency)]  # fmt: skip


def measure(
    env: dict[str, str],
    folder: Path,
    *,
    workers: int,
    latency: float,
    clients: list[int],
    per_client: int,
    timeout: float,
    loop: str = "auto",
    ramp: float = 0.0,
) -> dict[str, Any]:
    results: dict[str, Any] = {"latency_s": latency, "deadline_s": timeout, "ramp_s": ramp}
    with running(standin_command(latency), {}, "/health", ROOT) as standin:
        stripe_env = {
            **env,
            "STRIPE_SECRET_KEY": "sk_test_bench_0123456789abcdef",
            "STRIPE_API_BASE": f"http://127.0.0.1:{standin.port}",
            "PAYMENTS_REQUEST_TIMEOUT": str(timeout),
        }
        log_file = folder / "stripe-service.log"  # kept with the run's folder, for what went wrong
        command = service_command(workers, loop)
        with running(command, stripe_env, "/health/live", folder, log_file) as service:
            service.wait_for_listeners(workers)
            for n in clients:
                prefix = f"stripe-{n}"
                warm = charge_requests(n, users=n, user_prefix=prefix)
                run_load(
                    "127.0.0.1", service.port, warm, min(n, 128), timeout=CLIENT_GIVES_UP_AFTER
                )
                requests = charge_requests(n * per_client, users=n, user_prefix=prefix)
                load = run_load(
                    "127.0.0.1", service.port, requests, n,
                    timeout=CLIENT_GIVES_UP_AFTER, probe=LIVE, shed_pause=RETRY_AFTER,
                    processes=max(1, n // CLIENTS_PER_GENERATOR), ramp=ramp,
                )  # fmt: skip
                by_status = load.status_summary()
                charged = by_status.get("201", {})
                results[str(n)] = {
                    **load.summary(),
                    # while every client was running (the ramp and the last answers left out)
                    "charges_per_second": round(load.steady_rate(201), 1),
                    "charges_per_second_overall": charged.get("per_second", 0.0),
                    "ideal_per_second": round(n / latency, 1),
                    "by_status": by_status,
                    "timeouts": load.timeouts,
                    "shed": by_status.get("503", {}).get("count", 0),
                    # a connection's first answer also waited for the server to accept it
                    "shed_first_max_ms": round(max(load.first_by_status.get(503, [0.0])) * 1000, 1),
                    "shed_later_max_ms": round(_later_max(load, 503) * 1000, 1),
                    "live_p99_ms": round(load.percentile(99, load.probe_latencies) * 1000, 1),
                    "live_max_ms": round(max(load.probe_latencies, default=0.0) * 1000, 1),
                    "client_lag_p99_ms": round(load.percentile(99, load.client_lag) * 1000, 1),
                    "client_lag_max_ms": round(max(load.client_lag, default=0.0) * 1000, 1),
                    # the service's own count, so far, of its error answers by contract code
                    "errors_by_code": error_codes(service.port),
                }
    return results


def error_codes(port: int) -> dict[str, int]:
    """`payment_errors_total` by code, from the service's /metrics (all its workers)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = re.findall(r'^payment_errors_total\{code="([A-Z_]+)"\} ([0-9.e+]+)$', text, re.M)
    return {code: int(float(count)) for code, count in found if float(count)}


def _later_max(load: Any, status: int) -> float:
    """The slowest answer with `status` that was not the first on its connection."""
    later = Counter(load.by_status.get(status, [])) - Counter(load.first_by_status.get(status, []))
    return max(later, default=0.0)


def report_rows(results: dict[str, Any], simulated_rate: float | None) -> list[Row]:
    """Rows for the printed table: figure, value, baseline, ratio, target, met."""
    rows: list[Row] = []
    latency, deadline_ms = results["latency_s"], results["deadline_s"] * 1000
    ramp = results.get("ramp_s", 0.0)
    for clients, figures in results.items():
        if not isinstance(figures, dict):
            continue
        few = int(clients) <= 128  # the targets differ for 128 and 1,024 clients
        rate, ideal = figures["charges_per_second"], figures["ideal_per_second"]
        ceiling, baseline = (
            (min(simulated_rate, ideal), f"min(sim {simulated_rate:.0f}, ideal {ideal:.0f})")
            if simulated_rate
            else (ideal, f"ideal {ideal:.0f} (sim not run)")
        )
        charged = figures["by_status"].get("201", {})
        slowest = charged.get("max_ms") or 0.0
        within = 5000.0 if few else deadline_ms
        rows.append(
            (
                f"stripe {latency}s, {clients} clients (ramp {ramp}s): charges/s",
                f"{rate:.0f}",
                baseline,
                f"{rate / ceiling:.2f}x" if ceiling else "-",
                ">= 0.8x" if few else "",
                str(rate >= 0.8 * ceiling) if few else "",
            )
        )
        p50, p99 = charged.get("p50_ms"), charged.get("p99_ms")
        rows.append(
            ("  201 p50 / p99 / max ms", f"{p50} / {p99} / {slowest}", "", "",
             f"max <= {within:.0f}", str(slowest <= within))
        )  # fmt: skip
        statuses = figures["statuses"]
        expected = {"201"} if few else {"201", "503"}  # admitted and charged, or shed
        rows.append(
            ("  statuses, timeouts", f"{statuses}, {figures['timeouts']}", "", "",
             "all 201" if few else "201 or 503",
             str(set(statuses) == expected if few else set(statuses) <= expected))
        )  # fmt: skip
        if figures.get("errors_by_code"):
            rows.append(
                ("  error answers so far, by code", str(figures["errors_by_code"]), "", "", "", "")
            )  # fmt: skip
        shed = figures["by_status"].get("503")
        if shed:
            rows.append(
                ("  shed 503: count, p50 / p99 / max ms",
                 f"{shed['count']}, {shed['p50_ms']} / {shed['p99_ms']} / {shed['max_ms']}",
                 "", "", "max <= 50", str(shed["max_ms"] <= 50))
            )  # fmt: skip
            rows.append(
                ("  shed max ms: first on a connection / later",
                 f"{figures.get('shed_first_max_ms')} / {figures.get('shed_later_max_ms')}",
                 "", "", "", "")
            )  # fmt: skip
        live = figures["live_max_ms"]
        rows.append(
            ("  /health/live p99 / max ms", f"{figures['live_p99_ms']} / {live}", "", "",
             "max <= 100", str(live <= 100))
        )  # fmt: skip
        rows.append(
            ("  load generator's own lag p99 / max ms",
             f"{figures['client_lag_p99_ms']} / {figures['client_lag_max_ms']}", "", "", "", "")
        )  # fmt: skip
    return rows

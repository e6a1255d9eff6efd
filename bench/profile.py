"""Where a route's CPU goes: `python -m bench.profile charges|webhooks|live|stripe [--seconds 10]`.

Starts the service as `make bench` does (PostgreSQL, Redis, `--workers 2`, the projection
worker beside it), drives the route with 16 clients (`stripe`: charges through the loopback
Stripe stand-in at 300 ms, 128 clients, or `--clients`), and meanwhile samples every worker and
the projection worker with py-spy (only while they hold the GIL, so time spent waiting on
PostgreSQL or Redis is not counted) and the CPU time of every process on the machine. Prints:
the share of CPU by process; per worker process, the functions that were on the stack in the
most samples (project code and libraries, inclusive); and the raw samples' folder, for
flame graphs (`py-spy`'s raw format).
"""

import argparse
import collections
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from bench import workloads
from bench.loadgen import build_request, run_load
from bench.run import drop_database, fresh_database
from bench.servers import BIN, running, service_command
from bench.stripe_workload import standin_command

ROOT = Path(__file__).resolve().parents[1]
FRAME = re.compile(r":\d+\)$")
# Frames every sample of a worker carries: they say nothing about where the time goes.
COMMON = (
    "Thread.", "_worker", "<module>", "spawn_main", "_main", "BaseProcess.",
    "subprocess_started", "Process.target", "Server.run", "asyncio_run", "Runner.run",
)  # fmt: skip


def cpu_ticks() -> dict[str, int]:
    """CPU ticks used so far, by process name (PostgreSQL's backends summed)."""
    used: dict[str, int] = collections.Counter()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        key = name if name.startswith(("postgres", "redis")) else command[:70]
        used[key] += int(fields[11]) + int(fields[12])
    return used


def cpu_share(seconds: float) -> list[tuple[str, float]]:
    before, started = cpu_ticks(), time.perf_counter()
    time.sleep(seconds)
    after, elapsed = cpu_ticks(), time.perf_counter() - started
    ticks = os.sysconf("SC_CLK_TCK") * elapsed
    shares = [(k, 100 * (v - before.get(k, 0)) / ticks) for k, v in after.items()]
    return sorted((s for s in shares if s[1] >= 1), key=lambda s: -s[1])


def top_frames(raw: Path, count: int) -> tuple[int, list[tuple[float, str]]]:
    """The frames on the stack in the most samples of a py-spy raw file."""
    seen: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        n = int(samples)
        total += n
        for frame in {FRAME.sub(")", f) for f in stack.split(";")}:
            if not frame.startswith(COMMON) and "importlib" not in frame:
                seen[frame] += n
    return total, [(100 * n / total, f) for f, n in seen.most_common(count)] if total else []


def sampling(spy: str, pid: int, seconds: float, out: Path) -> list[str]:
    """py-spy's command: 200 samples a second, only while the process holds the GIL."""
    return [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200", "-f", "raw",
            "-o", str(out), "--nonblocking", "--gil"]  # fmt: skip


def requests_for(route: str, base_url: str, count: int, clients: int) -> list[bytes]:
    if route == "charges":
        return workloads.charge_requests(count)
    if route == "stripe":
        return workloads.charge_requests(count, users=clients, user_prefix="profile")
    if route == "webhooks":
        return workloads.webhook_requests(workloads.pending_payments(base_url, count))
    return [build_request("GET", "/health/live", {})] * count * 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("route", choices=["charges", "webhooks", "live", "stripe"])
    parser.add_argument("--clients", type=int, default=0, help="16, or 128 for stripe")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(BIN / "py-spy")
    folder = Path(tempfile.mkdtemp(prefix="payments-profile-"))
    database = fresh_database(args.database_url, folder)
    env = workloads.service_env(database, args.redis_url, str(folder))
    project = [str(BIN / "payment-service"), "project"]
    clients = args.clients or (128 if args.route == "stripe" else 16)
    try:
        with ExitStack() as stack:
            if args.route == "stripe":
                standin = stack.enter_context(running(standin_command(0.3), {}, "/health", ROOT))
                env |= {
                    "STRIPE_SECRET_KEY": "sk_test_bench_0123456789abcdef",
                    "STRIPE_API_BASE": f"http://127.0.0.1:{standin.port}",
                }
            service = stack.enter_context(running(service_command(2), env, "/health/live", folder))
            projector = stack.enter_context(running(project, env, None, folder))
            service.wait_for_listeners(2)
            base_url = f"http://127.0.0.1:{service.port}"
            requests = requests_for(args.route, base_url, args.requests, clients)
            if args.route == "stripe":  # each user's Customer made first, as saving a card does
                run_load("127.0.0.1", service.port, requests[:clients], clients)
                requests = requests_for(args.route, base_url, args.requests, clients)
            targets = {f"worker {pid}": pid for pid in service.worker_pids()}
            targets["projection worker"] = projector.process.pid
            samplers = [
                subprocess.Popen(
                    sampling(spy, pid, args.seconds, folder / f"{pid}.txt"),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for pid in targets.values()
            ]
            shares: list[tuple[str, float]] = []
            measuring = threading.Thread(
                target=lambda: shares.extend(cpu_share(min(5.0, args.seconds / 2)))
            )
            measuring.start()
            ramp = 0.3 if args.route == "stripe" else 0.0  # as the bench's Stripe workload
            load = run_load("127.0.0.1", service.port, requests, clients, ramp=ramp)
            measuring.join()
            for sampler in samplers:
                sampler.wait()
    finally:
        drop_database(args.database_url, database)
    print(f"{args.route}: {load.summary()}")
    print("\nCPU by process (% of one core):")
    for name, share in shares[:8]:
        print(f"  {share:6.1f}%  {name}")
    for name, pid in targets.items():
        raw = folder / f"{pid}.txt"
        total, frames = top_frames(raw, args.top) if raw.exists() else (0, [])
        if total < 50:
            continue  # a process that did next to nothing (uvicorn's helpers)
        print(f"\n{name}: {total} samples holding the GIL; on the stack in this share of them:")
        for share, frame in frames:
            print(f"  {share:5.1f}%  {frame[:120]}")
    print(f"\nraw samples: {folder}")


if __name__ == "__main__":
    main()

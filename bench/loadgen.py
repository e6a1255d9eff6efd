"""A low-overhead HTTP/1.1 load generator: pre-built requests over keep-alive sockets."""

import asyncio
import concurrent.futures
import itertools
import multiprocessing
import resource
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import uvloop


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    by_status: dict[int, list[float]] = field(default_factory=dict)
    timeouts: int = 0
    probe_latencies: list[float] = field(default_factory=list)
    client_lag: list[float] = field(default_factory=list)
    # Answers to the first request on a connection, which also waited for the server to accept it.
    first_by_status: dict[int, list[float]] = field(default_factory=dict)
    answered_at: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, status)
    # When the last client started and when the first one finished: every client was running.
    all_running: tuple[float, float] = (0.0, 0.0)

    def steady_rate(self, status: int) -> float:
        """Answers with `status` per second while every client was running (0 if never)."""
        start, end = self.all_running
        if end - start <= 0:
            return 0.0
        inside = sum(1 for at, code in self.answered_at if code == status and start <= at <= end)
        return inside / (end - start)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float, latencies: list[float] | None = None) -> float:
        ordered = sorted(self.latencies if latencies is None else latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def status_summary(self) -> dict[str, dict[str, float]]:
        """Per status: how many, answers per second, p50/p99/max in ms."""
        return {
            str(status): {
                "count": len(times),
                "per_second": round(len(times) / self.elapsed, 1) if self.elapsed else 0.0,
                "p50_ms": round(self.percentile(50, times) * 1000, 1),
                "p99_ms": round(self.percentile(99, times) * 1000, 1),
                "max_ms": round(max(times) * 1000, 1),
            }
            for status, times in sorted(self.by_status.items())
        }

    def summary(self) -> dict[str, float | dict[str, int]]:
        return {
            "requests": len(self.latencies),
            "per_second": round(self.rate, 1),
            "p50_ms": round(self.percentile(50) * 1000, 2),
            "p90_ms": round(self.percentile(90) * 1000, 2),
            "p99_ms": round(self.percentile(99) * 1000, 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "client_cpu_us_per_request": round(
                self.client_cpu / max(len(self.latencies), 1) * 1e6, 1
            ),
        }


def build_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, float | None, bytes]:
    """The status of the next response, its Retry-After in seconds (None without one) and its
    body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, retry_after = 0, None
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
        elif line[:12].lower() == b"retry-after:":
            retry_after = float(line[12:])
    return status, retry_after, await reader.readexactly(length) if length else b""


async def _drive(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    timeout: float | None = None,
    probe: bytes | None = None,
    shed_pause: float = 0.0,
    ramp: float = 0.0,
) -> LoadResult:
    result = LoadResult()
    counter = itertools.count()
    done = asyncio.Event()

    starts: list[float] = []
    ends: list[float] = []

    async def connection(start_after: float) -> None:
        await asyncio.sleep(start_after)
        starts.append(time.monotonic())
        reader, writer = await asyncio.open_connection(host, port)
        first = True
        try:
            while (i := next(counter)) < len(requests):
                started = time.perf_counter()
                writer.write(requests[i])
                try:
                    async with asyncio.timeout(timeout):  # no task a request, as wait_for makes
                        status, retry_after, _ = await read_response(reader)
                except TimeoutError:  # the client gives up and reconnects, as clients do
                    result.timeouts += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    first = True
                    continue
                took = time.perf_counter() - started
                result.latencies.append(took)
                result.statuses[status] += 1
                result.by_status.setdefault(status, []).append(took)
                result.answered_at.append((time.monotonic(), status))
                if first:
                    result.first_by_status.setdefault(status, []).append(took)
                    first = False
                if status == 503 and shed_pause:  # as its Retry-After asks, if it has one
                    await asyncio.sleep(shed_pause if retry_after is None else retry_after)
        finally:
            ends.append(time.monotonic())
            writer.close()

    async def prober() -> None:
        """One more client asking `probe` every 50 ms while the load runs."""
        assert probe is not None
        reader, writer = await asyncio.open_connection(host, port)
        while not done.is_set():
            started = time.perf_counter()
            writer.write(probe)
            await read_response(reader)
            result.probe_latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
        writer.close()

    async def lag_monitor() -> None:
        """How late the generator itself answers: its lag is part of every latency measured."""
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            result.client_lag.append(time.perf_counter() - before - 0.005)

    lagging = asyncio.create_task(lag_monitor())
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    probing = asyncio.create_task(prober()) if probe else None
    await asyncio.gather(*(connection(ramp * i / concurrency) for i in range(concurrency)))
    result.all_running = (max(starts, default=0.0), min(ends, default=0.0))
    done.set()
    if probing is not None:
        await probing
    await lagging
    result.elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    return result


def run_load(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    *,
    timeout: float | None = None,
    probe: bytes | None = None,
    shed_pause: float = 0.0,
    processes: int = 1,
    ramp: float = 0.0,
) -> LoadResult:
    """Send every request once, `concurrency` connections at a time; time each answer.

    `timeout`: a client waiting longer gives up and reconnects (counted in `timeouts`);
    `probe`: a request sent every 50 ms meanwhile on its own connection, timed apart;
    `shed_pause`: after a 503, a client waits the seconds its Retry-After gives before its next
    request, or this many without one (0: no client waits);
    `ramp`: the clients start one after another, evenly over this many seconds (each connects
    when it starts), as clients arriving on their own do, instead of all in the same instant;
    `processes`: the connections and requests split over this many generator processes, so
    that one generator's own lag (its event loop busy with hundreds of connections) is not
    measured as the server's; their figures are merged.
    """
    if processes <= 1:
        # uvloop: the generator shares the machine's cores with the service it measures
        return uvloop.run(
            _drive(host, port, requests, concurrency, timeout, probe, shed_pause, ramp)
        )
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        parts = [
            pool.submit(
                run_load,
                host,
                port,
                requests[i::processes],
                concurrency // processes + (i < concurrency % processes),
                timeout=timeout,
                probe=probe if i == 0 else None,
                shed_pause=shed_pause,
                ramp=ramp,
            )
            for i in range(processes)
        ]
        return _merged([part.result() for part in parts])


def _merged(parts: list[LoadResult]) -> LoadResult:
    merged = LoadResult(
        elapsed=max(part.elapsed for part in parts),
        all_running=(
            max(part.all_running[0] for part in parts),
            min(part.all_running[1] for part in parts),
        ),
    )
    for part in parts:
        merged.latencies += part.latencies
        merged.statuses.update(part.statuses)
        merged.client_cpu += part.client_cpu
        merged.timeouts += part.timeouts
        merged.probe_latencies += part.probe_latencies
        merged.client_lag += part.client_lag
        merged.answered_at += part.answered_at
        for status, times in part.first_by_status.items():
            merged.first_by_status.setdefault(status, []).extend(times)
        for status, times in part.by_status.items():
            merged.by_status.setdefault(status, []).extend(times)
    return merged

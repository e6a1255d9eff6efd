"""The benchmarks' load generator: every request sent once, figures merged across processes."""

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
from bench import workloads
from bench.loadgen import build_request, run_load

from application.idempotency import validate_idempotency_key


@pytest.fixture
def counting_server() -> Iterator[tuple[int, list[bytes]]]:
    """HTTP/1.1 on loopback: 503 for /shed (with `Retry-After: 1` for /shed-wait), 200 otherwise
    (after 10 ms for /slow, 1 s for /hang); remembers each request line."""
    seen: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    loop = asyncio.new_event_loop()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0]
                seen.append(line)
                if b"/slow" in line:
                    await asyncio.sleep(0.01)
                if b"/hang" in line:  # longer than the client waits
                    await asyncio.sleep(1.0)
                status = b"503 Service Unavailable" if b"/shed" in line else b"200 OK"
                if b"/shed-wait" in line:
                    status += b"\r\nRetry-After: 1"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        asyncio.start_server(answer, sock=listener), loop
    ).result(timeout=5)
    yield port, seen

    async def shut_down() -> None:  # handlers still waiting (a /hang) end with the server
        server.close()
        handlers = asyncio.all_tasks() - {asyncio.current_task()}
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(shut_down(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def test_split_over_processes_every_request_is_sent_once_and_the_figures_add_up(
    counting_server: tuple[int, list[bytes]],
) -> None:
    port, seen = counting_server
    requests = [build_request("GET", f"/r/{i}", {}) for i in range(300)]
    requests += [build_request("GET", f"/shed/{i}", {}) for i in range(30)]
    probe = build_request("GET", "/probe", {})

    result = run_load("127.0.0.1", port, requests, 12, probe=probe, processes=3)

    sent = sorted(line for line in seen if not line.startswith(b"GET /probe"))
    assert sent == sorted(r.split(b"\r\n", 1)[0] for r in requests)
    assert result.statuses == {200: 300, 503: 30}
    assert len(result.latencies) == 330
    assert len(result.by_status[503]) == 30
    assert result.probe_latencies, "one of the processes probed meanwhile"
    assert result.client_lag, "each process reports its own lag"
    assert result.elapsed > 0 and result.rate > 0


def test_a_ramp_starts_clients_one_after_another_and_the_steady_rate_counts_all_running(
    counting_server: tuple[int, list[bytes]],
) -> None:
    port, _ = counting_server
    requests = [build_request("GET", f"/slow/{i}", {}) for i in range(400)]

    result = run_load("127.0.0.1", port, requests, 8, ramp=0.2, processes=2)

    start, end = result.all_running
    assert start - min(at for at, _ in result.answered_at) >= 0.1  # the last started late
    assert end > start
    inside = [at for at, status in result.answered_at if start <= at <= end]
    assert result.steady_rate(200) == pytest.approx(len(inside) / (end - start))
    assert sum(len(times) for times in result.first_by_status.values()) == 8  # one a client


def test_a_client_that_waits_too_long_gives_up_reconnects_and_sends_the_rest(
    counting_server: tuple[int, list[bytes]],
) -> None:
    port, seen = counting_server
    requests = [build_request("GET", "/hang/0", {})]
    requests += [build_request("GET", f"/r/{i}", {}) for i in range(5)]

    result = run_load("127.0.0.1", port, requests, 1, timeout=0.2)

    assert result.timeouts == 1
    assert result.statuses == {200: 5}, "the one given up on is not answered, nor sent again"
    assert sorted(seen) == sorted(r.split(b"\r\n", 1)[0] for r in requests)
    assert sum(len(times) for times in result.first_by_status.values()) == 1, (
        "the first answer on the new connection"
    )


def test_a_refused_client_waits_what_retry_after_asks_or_the_pause_without_one(
    counting_server: tuple[int, list[bytes]],
) -> None:
    port, _ = counting_server
    asked = [build_request("GET", "/shed-wait", {}), build_request("GET", "/r/1", {})]
    unasked = [build_request("GET", "/shed", {}), build_request("GET", "/r/2", {})]

    waited = run_load("127.0.0.1", port, asked, 1, shed_pause=0.05)
    paused = run_load("127.0.0.1", port, unasked, 1, shed_pause=0.05)

    assert waited.statuses == paused.statuses == {503: 1, 200: 1}
    assert waited.elapsed >= 1.0, "the client waited the second Retry-After gives"
    assert paused.elapsed < 0.5, "without Retry-After, the client paused for shed_pause"


def test_the_benchmarks_charge_keys_are_never_taken_for_card_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run id of eight digits beside a request's number could pass Luhn: the service would
    then refuse those charges with VALIDATION_ERROR, and the benchmark count them as errors."""
    monkeypatch.setattr(workloads.uuid, "uuid4", lambda: uuid.UUID(int=0x41119234 << 96))
    charges = workloads.charge_requests(12_288, users=4)
    keys = [
        line.split(b": ", 1)[1].decode()
        for request in charges
        for line in request.split(b"\r\n")
        if line.startswith(b"Idempotency-Key:")
    ]
    assert len(set(keys)) == 12_288
    for key in keys:
        validate_idempotency_key(key)  # raises InvalidInput for a key holding a card number

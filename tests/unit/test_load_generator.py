"""The benchmarks' load generator: every request sent once, figures merged across processes."""

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from bench.loadgen import build_request, run_load


@pytest.fixture
def counting_server() -> Iterator[tuple[int, list[bytes]]]:
    """HTTP/1.1 on loopback: 503 for /shed, 200 otherwise; remembers each request line."""
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
                status = b"503 Service Unavailable" if b"/shed" in line else b"200 OK"
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
    loop.call_soon_threadsafe(server.close)
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

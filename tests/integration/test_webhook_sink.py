"""A receiver that never answers, trickles, or answers with a huge body costs one timeout."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from adapters.background_loop import BackgroundLoop
from adapters.webhook_sink import WebhookSink
from application.outbox_ports import DeliveryFailed, OutboundMessage

TIMEOUT = 0.5
MESSAGE = OutboundMessage("3f1e4c1a-4a43-5b8e-9d0e-0c3a54b0a1f2", "payment.succeeded", b"{}")
Behaviour = Callable[[socket.socket], None]


@contextmanager
def raw_server(behaviour: Behaviour) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_guarded, args=(behaviour, conn), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    finally:
        stop.set()
        server.join(1)
        listener.close()


def _guarded(behaviour: Behaviour, conn: socket.socket) -> None:
    try:
        conn.recv(65536)
        behaviour(conn)
    except OSError:
        pass
    finally:
        conn.close()


def silent(conn: socket.socket) -> None:
    time.sleep(5)


def trickling(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(100):
        conn.sendall(b"X-Slow: a\r\n")
        time.sleep(0.05)


def huge(status: bytes) -> Behaviour:
    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 10000000000\r\n\r\n")
        chunk = b"x" * 65536
        for _ in range(2000):
            conn.sendall(chunk)

    return answer


def redirecting(conn: socket.socket) -> None:
    conn.sendall(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n"
    )


@pytest.fixture
def sink_for() -> Iterator[Callable[[str], WebhookSink]]:
    loop = BackgroundLoop()
    yield lambda url: WebhookSink(url, "s" * 32, loop, timeout=TIMEOUT)
    loop.close()


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (silent, "no answer within 0.5 s"),
        (trickling, "no answer within 0.5 s"),
        (huge(b"500 Internal Server Error"), "HTTP 500"),
        (redirecting, "HTTP 302"),
    ],
)
def test_anything_but_a_2xx_in_time_is_a_failed_try_bounded_by_the_timeout(
    sink_for: Callable[[str], WebhookSink], behaviour: Behaviour, error: str
) -> None:
    with raw_server(behaviour) as url:
        started = time.monotonic()
        with pytest.raises(DeliveryFailed, match=error):
            sink_for(url).send(MESSAGE)
        assert time.monotonic() - started < TIMEOUT + 2  # does not hang


def test_a_2xx_with_a_huge_body_acknowledges_without_reading_it(
    sink_for: Callable[[str], WebhookSink],
) -> None:
    with raw_server(huge(b"200 OK")) as url:
        started = time.monotonic()
        sink_for(url).send(MESSAGE)
        assert time.monotonic() - started < TIMEOUT + 2


def test_a_refused_connection_is_a_failed_try(
    sink_for: Callable[[str], WebhookSink], closed_port: int
) -> None:
    with pytest.raises(DeliveryFailed, match="ConnectError"):
        sink_for(f"http://127.0.0.1:{closed_port}/hooks").send(MESSAGE)

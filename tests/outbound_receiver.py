"""A platform's endpoint on loopback: records the outbound events it is sent, and checks them."""

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENTS_SECRET = "test-events-signing-secret-0123456789abcdef"
TOLERANCE = 300


@dataclass(frozen=True)
class Received:
    event_id: str
    signature: str
    content_type: str
    raw: bytes
    at: float
    answered: int

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed


def verify(raw: bytes, header: str, secret: str = EVENTS_SECRET) -> bool:
    """What the README tells a receiver to do."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), given)


class Receiver:
    """Answers 200, or 500 for the first `refuse` tries of each event id.

    With `gather`, each request is held until that many are in flight at once (or `hold`
    seconds pass), which shows how many senders were sending at the same time.
    """

    def __init__(self, port: int = 0, refuse: int = 0, gather: int = 0, hold: float = 0) -> None:
        self.refuse = refuse
        self.calls: list[Received] = []
        self.tries: Counter[str] = Counter()
        self.lock = threading.Condition()
        self.gather, self.hold = gather, hold
        self.in_flight: Counter[str] = Counter()  # by payment id
        self.most_at_once = 0
        self.most_at_once_per_payment = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                event_id = self.headers.get("Payments-Event-Id", "")
                if receiver.gather:
                    receiver.held(json.loads(raw)["data"]["payment"]["id"])
                with receiver.lock:
                    receiver.tries[event_id] += 1
                    status = 500 if receiver.tries[event_id] <= receiver.refuse else 200
                    receiver.calls.append(
                        Received(
                            event_id,
                            self.headers.get("Payments-Signature", ""),
                            self.headers.get("Content-Type", ""),
                            raw,
                            time.monotonic(),
                            status,
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/payments"

    def held(self, payment_id: str) -> None:
        with self.lock:
            self.in_flight[payment_id] += 1
            total = sum(self.in_flight.values())
            self.most_at_once = max(self.most_at_once, total)
            self.most_at_once_per_payment = max(
                self.most_at_once_per_payment, self.in_flight[payment_id]
            )
            self.lock.notify_all()
            self.lock.wait_for(lambda: self.most_at_once >= self.gather, self.hold)
            self.in_flight[payment_id] -= 1

    def acknowledged(self) -> list[Received]:
        with self.lock:
            return [c for c in self.calls if c.answered == 200]

    def events_of(self, payment_id: str) -> list[dict[str, Any]]:
        return [
            c.body for c in self.acknowledged() if c.body["data"]["payment"]["id"] == payment_id
        ]


@contextmanager
def receiving(
    port: int = 0, refuse: int = 0, gather: int = 0, hold: float = 0
) -> Iterator[Receiver]:
    receiver = Receiver(port, refuse, gather, hold)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()

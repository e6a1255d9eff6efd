"""A loopback HTTP server answering like Stripe's API for what localstripe cannot express.

It keeps PaymentIntents, Customers and Refunds, replays a repeated Idempotency-Key, and
answers scripted replies (Stripe's documented error bodies and status codes, slow answers).
"""

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    status: int = 200
    error: dict[str, Any] | None = None
    delay: float = 0.0  # seconds to wait after doing the work, before answering
    intent_status: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    form: dict[str, str]
    idempotency_key: str | None


@dataclass
class FakeStripe:
    intent_status: str = "succeeded"
    refund_status: str = "succeeded"
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    latency: float = 0.0  # seconds every answer without a scripted delay waits

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._replies: dict[tuple[str, str], deque[Reply]] = {}
        self._by_key: dict[str, tuple[int, dict[str, Any]]] = {}
        self._server: ThreadingHTTPServer | None = None

    def reply(self, method: str, path: str, *replies: Reply) -> None:
        """Answer the next requests to (method, path) with these replies, in order."""
        self._replies.setdefault((method, path), deque()).extend(replies)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]

    def start(self) -> "FakeStripe":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length).decode() if length else parts.query
        form = dict(parse_qsl(raw))
        key = http.headers.get("Idempotency-Key")
        with self._lock:
            self.seen.append(Seen(http.command, parts.path, form, key))
            queue = self._replies.get((http.command, parts.path))
            reply = queue.popleft() if queue else Reply()
            if key and http.command == "POST" and key in self._by_key:
                status, body = self._by_key[key]
                reply = Reply()
            else:
                status, body = self._answer(http.command, parts.path, form, reply)
                if key and http.command == "POST" and status < 429:
                    self._by_key[key] = (status, body)
        time.sleep(reply.delay or self.latency)
        try:
            payload = json.dumps(body).encode()
            http.send_response(status)
            http.send_header("Content-Type", "application/json")
            http.send_header("Content-Length", str(len(payload)))
            http.end_headers()
            http.wfile.write(payload)
        except OSError:
            pass  # the client gave up waiting: the work above is done all the same

    def _answer(
        self, method: str, path: str, form: dict[str, str], reply: Reply
    ) -> tuple[int, dict[str, Any]]:
        if reply.error is not None and reply.error.get("type") == "card_error":
            # Stripe keeps the declined PaymentIntent and returns it inside the error.
            intent = self._intent(form, "requires_payment_method")
            intent["last_payment_error"] = dict(reply.error)
            return reply.status, {"error": {**reply.error, "payment_intent": intent}}
        if reply.error is not None:
            return reply.status, {"error": reply.error}
        if (method, path) == ("POST", "/v1/customers"):
            customer = {"id": f"cus_fake{next(self._ids)}", "object": "customer"}
            self.customers[customer["id"]] = customer
            return 200, customer
        if (method, path) == ("POST", "/v1/payment_intents"):
            intent = self._intent(form, reply.intent_status or self.intent_status)
            return 200, intent
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            found = self.intents.get(path.rsplit("/", 1)[1])
            return (200, found) if found else (404, {"error": missing(path)})
        if (method, path) == ("GET", "/v1/payment_intents"):
            mine = [i for i in self.intents.values() if i["customer"] == form.get("customer")]
            return 200, listing(path, mine)
        if (method, path) == ("POST", "/v1/refunds"):
            return 200, self._refund(form)
        if (method, path) == ("GET", "/v1/refunds"):
            pi = form.get("payment_intent")
            return 200, listing(
                path, [r for r in self.refunds.values() if r["payment_intent"] == pi]
            )
        return 404, {"error": missing(path)}

    def _intent(self, form: dict[str, str], status: str) -> dict[str, Any]:
        intent_id = f"pi_fake{next(self._ids)}"
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "customer": form.get("customer"),
            "payment_method": form.get("payment_method"),
            "status": status,
            "client_secret": f"{intent_id}_secret_fake",
            "metadata": nested(form, "metadata"),
            "last_payment_error": None,
            "next_action": {"type": "use_stripe_sdk"} if status == "requires_action" else None,
        }
        self.intents[intent_id] = intent
        return intent

    def _refund(self, form: dict[str, str]) -> dict[str, Any]:
        refund = {
            "id": f"re_fake{next(self._ids)}",
            "object": "refund",
            "amount": int(form["amount"]),
            "payment_intent": form["payment_intent"],
            "reason": form.get("reason"),
            "status": self.refund_status,
            "metadata": nested(form, "metadata"),
        }
        self.refunds[refund["id"]] = refund
        return refund


def nested(form: dict[str, str], name: str) -> dict[str, str]:
    prefix = f"{name}["
    return {k[len(prefix) : -1]: v for k, v in form.items() if k.startswith(prefix)}


def listing(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": False, "data": data}


def missing(path: str) -> dict[str, Any]:
    return {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "message": f"No such {path}",
    }

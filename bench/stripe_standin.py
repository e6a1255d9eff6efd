"""A loopback stand-in for Stripe's API: Customers and PaymentIntents, answered after a latency.

`python -m bench.stripe_standin --port N [--latency 0.3]`: raw asyncio HTTP/1.1 with
keep-alive, form bodies as stripe-python sends them, an Idempotency-Key replays its first
answer. A PaymentIntent created with confirm=true succeeds at once, as a good card does.
`GET /v1/payment_intents` lists every one made (of a `customer` if given), in one page: what
a test counts to tell that nothing was charged twice.
"""

import argparse
import asyncio
import itertools
import json
import time
from urllib.parse import parse_qsl

import uvloop

IDS = itertools.count(1)


class StandIn:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.by_key: dict[str, bytes] = {}
        self.intents: dict[str, bytes] = {}
        self.customers: dict[str, str | None] = {}  # PaymentIntent id -> its customer

    def answer(self, method: str, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        if method == "GET" and path == "/health":
            return 200, b'{"ok": true}'
        if method == "POST" and path == "/v1/customers":
            return 200, json.dumps({"id": f"cus_bench{next(IDS)}", "object": "customer"}).encode()
        if method == "POST" and path == "/v1/payment_intents":
            intent_id = f"pi_bench{next(IDS)}"
            intent = {
                "id": intent_id, "object": "payment_intent", "amount": int(form["amount"]),
                "currency": form["currency"], "customer": form.get("customer"),
                "status": "succeeded" if form.get("confirm") == "true" else "requires_confirmation",
                "client_secret": f"{intent_id}_secret_bench", "created": int(time.time()),
                "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
                "last_payment_error": None,
            }  # fmt: skip
            body = json.dumps(intent).encode()
            self.intents[intent_id] = body
            self.customers[intent_id] = form.get("customer")
            return 200, body
        if method == "GET" and path == "/v1/payment_intents":
            customer = form.get("customer")
            listed = [
                body
                for intent_id, body in self.intents.items()
                if customer is None or self.customers[intent_id] == customer
            ]
            page = b'{"object": "list", "url": "/v1/payment_intents", "has_more": false, "data": ['
            return 200, page + b", ".join(listed) + b"]}"
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            found = self.intents.get(path.rsplit("/", 1)[1])
            if found is not None:
                return 200, found
        missing = {"type": "invalid_request_error", "code": "resource_missing", "message": path}
        return 404, json.dumps({"error": missing}).encode()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
                }
                length = int(headers.get("content-length", "0"))
                raw = (await reader.readexactly(length)).decode() if length else ""
                path, _, query = target.partition("?")
                form = dict(parse_qsl(raw or query))
                key = headers.get("idempotency-key")
                if path != "/health":  # readiness is answered at once
                    await asyncio.sleep(self.latency)
                if key and method == "POST" and key in self.by_key:
                    status, body = 200, self.by_key[key]
                else:
                    status, body = self.answer(method, path, form)
                    if key and method == "POST" and status == 200:
                        self.by_key[key] = body
                writer.write(
                    f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def main(port: int, latency: float) -> None:
    server = await asyncio.start_server(StandIn(latency).serve, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args()
    # uvloop: the stand-in shares the machine's cores with the service it answers
    uvloop.run(main(args.port, args.latency))

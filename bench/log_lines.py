"""CPU time of one JSON log line: the access line of a request and the audit line of a charge.

Run: .venv/bin/python -m bench.log_lines [lines]
Logs through the service's own configuration (configure_logging: request context merged,
level, logger name, secrets scrubbed, timestamp, pid, JSON rendered) into an in-memory
stream, with a request id bound to the context as the HTTP middleware binds it, and prints
the mean time in microseconds per line:
- the access line with the same values on every line;
- the access line with a new request id on every line, as each request has;
- the audit line of a charge with a new request id, payment id and PaymentIntent id.
The ids are made before the clock starts.
"""

import io
import sys
import time
import uuid
from collections.abc import Callable

import structlog

from entrypoints.logs import configure_logging

REQUEST_ID = "0f3c2b9a8d7e4f6a9b1c2d3e4f5a6b7c"


def per_line(write: Callable[[int], None], count: int) -> float:
    write(count)  # the first line makes the logger and learns the field names
    started = time.perf_counter()
    for i in range(count):
        write(i)
    return (time.perf_counter() - started) / count * 1e6


def main(count: int) -> None:
    stream = io.StringIO()
    configure_logging(stream)
    access = structlog.get_logger("payments.access")
    audit = structlog.get_logger("payments.audit")
    structlog.contextvars.bind_contextvars(request_id=REQUEST_ID)
    request_ids = [uuid.uuid4().hex for _ in range(count + 1)]
    payment_ids = [str(uuid.uuid4()) for _ in range(count + 1)]
    intent_ids = [f"pi_sim_{uuid.uuid4().hex[:24]}" for _ in range(count + 1)]

    def same_access_line(_: int) -> None:
        access.info(
            "request",
            request_id=REQUEST_ID,
            method="POST",
            path="/api/payments/process",
            status=201,
            duration_ms=12.34,
            user_id="bench-user-17",
        )

    def access_line(i: int) -> None:
        access.info(
            "request",
            request_id=request_ids[i],
            method="POST",
            path="/api/payments/process",
            status=201,
            duration_ms=12.34,
            user_id="bench-user-17",
        )

    def audit_line(i: int) -> None:
        audit.info(
            "payment.process",
            request_id=request_ids[i],
            outcome="succeeded",
            payment_id=payment_ids[i],
            stripe_payment_intent_id=intent_ids[i],
            duration_ms=8.21,
            user_id="bench-user-17",
            amount=2500,
            currency="usd",
        )

    for name, write in (
        ("access line, same values", same_access_line),
        ("access line, new request id", access_line),
        ("audit line, new ids", audit_line),
    ):
        stream.seek(0)
        stream.truncate()
        print(f"{per_line(write, count):.1f} us per {name}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)

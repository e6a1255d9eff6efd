"""How long `reconcile` takes to find the unsettled payments among N settled ones.

    .venv/bin/python -m bench.reconcile_scan [N] [postgresql://...]

Writes N payments (1 in 100 left pending, 1 in 10 with a settled refund) to a fresh SQLite
file, or to the given PostgreSQL database, then times EventLogPendingPayments.unsettled().
"""

import sys
import tempfile
import time
from pathlib import Path

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.pending_scan import EventLogPendingPayments
from domain.payment import Payment


def payment(n: int) -> Payment:
    return Payment(
        user_id=f"user-{n % 1000}", amount=1000, currency="usd", payment_method_id="pm_card_visa",
        course_id=None, metadata={}, idempotency_key=f"bench-{n}-{time.time_ns()}",
        key_derived=False, attempt=0, request_hash="x",
    )  # fmt: skip


def main(count: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = EventSourcedPaymentStore.from_env(persistence_env(database_url, Path(tmp) / "e.db"))
        started = time.perf_counter()
        batch = []
        for n in range(count):
            p = payment(n)
            if n % 100:
                p.record_intent(f"pi_{n}")
                p.mark_succeeded()
            if n % 10 == 1:
                p.request_refund(100, None)
                p.record_refund(1, f"re_{n}", 100)
            batch.append(p)
            if len(batch) == 500:
                store.save(*batch)
                batch = []
        store.save(*batch)
        print(f"wrote {count} payments in {time.perf_counter() - started:.1f} s")
        pending = EventLogPendingPayments(store.app)
        for _ in range(3):
            started = time.perf_counter()
            found = pending.unsettled()
            print(f"unsettled(): {len(found)} of {count} in {time.perf_counter() - started:.3f} s")
        store.close()


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 20_000,
        sys.argv[2] if len(sys.argv) > 2 else None,
    )

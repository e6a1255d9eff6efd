"""Bulk data for the benchmarks: read-model rows for history, domain events for replay."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from adapters.eventstore import EventSourcedPaymentStore
from domain.payment import Payment

HEAVY_USER = "bench-heavy-user"
STATUSES = ["succeeded"] * 8 + ["failed", "refunded", "partially_refunded", "pending"]


def seed_history(database_url: str, rows: int, heavy_rows: int, users: int = 50_000) -> None:
    """`rows` history rows, `heavy_rows` of them for HEAVY_USER; counts and stats to match."""
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    columns = (
        "id, user_id, amount, currency, status, charge_status, refunded_amount, course_id, "
        "created_at, updated_at"
    )
    with psycopg.connect(database_url) as conn:
        conn.execute("TRUNCATE payment_history, payment_counts")
        with conn.cursor() as cur, cur.copy(f"COPY payment_history ({columns}) FROM STDIN") as copy:
            for i in range(rows):
                user = HEAVY_USER if i < heavy_rows else f"user-{rng.randrange(users)}"
                status = rng.choice(STATUSES)
                at = start + timedelta(seconds=rng.randrange(30_000_000))
                charge = "succeeded" if "refunded" in status else status
                copy.write_row(
                    (
                        uuid.UUID(int=rng.getrandbits(128)),
                        user,
                        1000 + i % 9000,
                        "usd",
                        status,
                        charge,
                        0,
                        f"course-{i % 300}",
                        at,
                        at,
                    )
                )
        conn.execute(
            "INSERT INTO payment_counts (user_id, status, n) "
            "SELECT user_id, status, count(*) FROM payment_history GROUP BY user_id, status"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE payment_history")
        conn.execute("VACUUM ANALYZE payment_counts")


def seed_events(store: EventSourcedPaymentStore, events: int, batch: int = 400) -> int:
    """About `events` domain events: payments that succeed and are partly refunded (5 each)."""
    written = 0
    n = 0
    while written < events:
        payments = []
        for _ in range(batch):
            n += 1
            payment = Payment(
                user_id=f"user-{n % 5000}",
                amount=5000,
                currency="usd",
                payment_method_id="pm_card_visa",
                course_id="course-1",
                metadata={},
                idempotency_key=f"seed-{n}",
                key_derived=False,
                attempt=0,
                request_hash="seed",
            )
            payment.record_intent(f"pi_seed_{n}")
            payment.mark_succeeded()
            refund = payment.request_refund(1000, None)
            payment.record_refund(refund.number, f"re_seed_{n}", 1000)
            payments.append(payment)
        store.save(*payments)
        written += 5 * len(payments)
    return written

"""Generated payment histories, saved in batches straight through the aggregate."""

from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

from adapters.eventstore import EventSourcedPaymentStore
from domain.payment import Payment


@dataclass
class Expected:
    """What the history view must hold once it has seen every generated event."""

    refunded: dict[UUID, int] = field(default_factory=dict)
    status: dict[UUID, str] = field(default_factory=dict)

    def counts(self) -> Counter[str]:
        return Counter(self.status.values())


def one_payment(n: int, prefix: str) -> Payment:
    payment = Payment(
        user_id=f"{prefix}-user-{n % 97}", amount=1000 + n, currency="usd",
        payment_method_id="pm_card_visa", course_id=f"course-{n % 13}", metadata={},
        idempotency_key=f"{prefix}-{n}", key_derived=False, attempt=0, request_hash="h",
    )  # fmt: skip
    payment.record_intent(f"pi_{prefix}_{n}")
    if n % 11 == 0:
        payment.mark_failed("card_declined", "generic_decline", "Declined.")
        return payment
    payment.mark_succeeded()
    if n % 3 == 0:
        first = payment.request_refund(100, "partial")
        payment.record_refund(first.number, f"re_{prefix}_{n}_1", 100)
    if n % 5 == 0:
        rest = payment.request_refund(None, "the rest")
        payment.record_refund(rest.number, f"re_{prefix}_{n}_2", rest.amount)
    return payment


def generate(
    store: EventSourcedPaymentStore, count: int, *, prefix: str = "gen", batch: int = 250
) -> Expected:
    expected = Expected()
    for start in range(0, count, batch):
        payments = [one_payment(n, prefix) for n in range(start, min(start + batch, count))]
        store.save(*payments)
        for p in payments:
            expected.refunded[p.id] = p.refunded_amount
            expected.status[p.id] = p.status.value
    return expected

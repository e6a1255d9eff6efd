"""Prometheus metric objects of the service, registered once in the default registry."""

from prometheus_client import Counter

DUPLICATE_PAYMENT_ATTEMPTS = Counter(
    "duplicate_payment_attempts",
    "Requests that reused an idempotency key: replayed from the cache or refused while in flight",
    ["route", "outcome"],
)

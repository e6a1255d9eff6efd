"""The service's Prometheus metrics (DESIGN.md names); request metrics come from Litestar.

With PROMETHEUS_MULTIPROC_DIR set (`serve` sets it), every worker writes its samples there
and `GET /metrics` on any worker answers for all of them.
"""

import os

from prometheus_client import Counter, Gauge, Histogram, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

payments_total = Counter(
    "payments_total", "Payment requests by the status they reached", ["status"]
)
payment_processing_seconds = Histogram(
    "payment_processing_seconds",
    "Time to process a payment request, Stripe call included",
    buckets=LATENCY_BUCKETS,
)
payment_errors_total = Counter(
    "payment_errors_total", "Error responses of the API by contract code", ["code"]
)
refunds_total = Counter("refunds_total", "Refunds by the status Stripe gave them", ["status"])
webhook_events_total = Counter(
    "webhook_events_total", "Stripe webhook events received", ["type", "outcome"]
)
webhook_processing_seconds = Histogram(
    "webhook_processing_seconds", "Time to verify and apply a Stripe webhook event",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
duplicate_payment_attempts_total = Counter(
    "duplicate_payment_attempts_total",
    "Requests that reused an idempotency key: replayed from the cache or refused while in flight",
    ["route", "outcome"],
)
requests_shed_total = Counter(
    "requests_shed_total",
    "Requests refused with 503 because the worker had as many in flight as it admits",
    ["route"],
)

redis_circuit_changes_total = Counter(
    "redis_circuit_changes_total",
    "Times the Redis circuit breaker opened (Redis skipped) or closed (Redis answers again)",
    ["state"],
)
redis_skipped_calls_total = Counter(
    "redis_skipped_calls_total", "Redis calls skipped while its circuit breaker was open"
)


def forget_this_process() -> None:
    """On a worker's exit: drop its live gauges (in-flight requests) from the totals."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


outbound_events_total = Counter(
    "outbound_events_total",
    "Tries to send an outbound event, by type and outcome (delivered, retrying, parked)",
    ["type", "outcome"],
)
outbound_events_stranded = Gauge(
    "outbound_events_stranded",
    "Outbound events not yet delivered to an endpoint no longer configured (events move)",
    multiprocess_mode="livemax",
)
outbound_event_lag_seconds = Gauge(
    "outbound_event_lag_seconds",
    "Age of the oldest outbound event a receiver is still waiting for (parked ones aside)",
    multiprocess_mode="livemax",
)

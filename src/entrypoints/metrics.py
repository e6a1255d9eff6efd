"""The service's Prometheus metrics (DESIGN.md names); request metrics come from Litestar."""

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

webhook_events_total = Counter(
    "webhook_events_total", "Stripe webhook events received", ["type", "outcome"]
)
webhook_processing_seconds = Histogram(
    "webhook_processing_seconds", "Time to verify and apply a Stripe webhook event",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip

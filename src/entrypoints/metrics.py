"""Prometheus metrics of the service, served at /metrics."""

from prometheus_client import Counter, Histogram

WEBHOOK_EVENTS = Counter(
    "webhook_events_total",
    "Stripe webhook deliveries by event type and outcome",
    ["type", "outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "webhook_processing_seconds",
    "Time to verify and take in one Stripe webhook delivery",
)

"""Configuration of outbound events: where they go and the secret that signs them."""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MIN_SECRET = 32


@dataclass(frozen=True)
class EventsSettings:
    webhook_urls: tuple[str, ...] = ()
    signing_secret: str | None = None
    nats_url: str | None = None


def events_settings(get: Callable[[str], str | None], error: type[Exception]) -> EventsSettings:
    """Read PAYMENTS_EVENTS_*; a bad value raises `error` naming the variable."""
    urls = tuple(
        dict.fromkeys(
            u.strip() for u in (get("PAYMENTS_EVENTS_WEBHOOK_URLS") or "").split(",") if u.strip()
        )
    )
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise error(
                "PAYMENTS_EVENTS_WEBHOOK_URLS: each must be an http:// or https:// URL, "
                "comma-separated"
            )
    secret = get("PAYMENTS_EVENTS_SIGNING_SECRET")
    if secret is not None and len(secret) < MIN_SECRET:
        raise error(f"PAYMENTS_EVENTS_SIGNING_SECRET: must be at least {MIN_SECRET} characters")
    if urls and secret is None:
        raise error(
            "PAYMENTS_EVENTS_SIGNING_SECRET: required when PAYMENTS_EVENTS_WEBHOOK_URLS is set"
        )
    nats_url = get("PAYMENTS_EVENTS_NATS_URL")
    if nats_url is not None:
        parts = urlsplit(nats_url)
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise error("PAYMENTS_EVENTS_NATS_URL: must be a nats:// or tls:// URL")
    return EventsSettings(webhook_urls=urls, signing_secret=secret, nats_url=nats_url)

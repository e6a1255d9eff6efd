"""Stripe's webhook: verified on the raw body, then taken in exactly once."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import HeaderParameter, RawBody

from adapters.stripe_payment_methods import payment_method_change
from adapters.stripe_signature import HEADER, verify_stripe_signature
from application.errors import PaymentNotRecordedYet
from application.ingest_stripe_event import IngestStripeEvent, aingest_stripe_event
from domain.errors import InvalidInput
from entrypoints.http.openapi_docs import error_responses
from entrypoints.http.services import Services
from entrypoints.metrics import webhook_events_total, webhook_processing_seconds

MAX_WEBHOOK_BYTES = 256 * 1024


class EventData(msgspec.Struct):
    object: dict[str, Any]


class StripeEvent(msgspec.Struct):
    """The part of Stripe's event envelope that is read; Stripe adds fields freely."""

    id: str
    type: str
    created: int
    data: EventData


class WebhookAck(msgspec.Struct):
    received: bool


def parse_event(body: bytes) -> IngestStripeEvent:
    try:
        event = msgspec.json.decode(body, type=StripeEvent)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise InvalidInput("body", f"is not a Stripe event ({error})") from None
    if not event.id.startswith("evt_") or not event.type:
        raise InvalidInput("body", "is not a Stripe event (id must start with evt_)")
    change = None
    if event.type.startswith("payment_method."):
        try:
            change = payment_method_change(msgspec.json.decode(body))
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInput("body", f"is not a payment method event ({error})") from None
    return IngestStripeEvent(
        event_id=event.id,
        event_type=event.type,
        created=event.created,
        data_object=event.data.object,
        payment_method_change=change,
        received_at=int(time.time()),
    )


@contextmanager
def measured() -> Iterator[dict[str, str]]:
    """Count each delivery by type and outcome, and time it, whichever way it ends."""
    labels = {"type": "unverified", "outcome": "error"}
    started = time.perf_counter()
    try:
        yield labels
    except PaymentNotRecordedYet:
        labels["outcome"] = "deferred"
        raise
    except (InvalidInput, ValidationException):
        labels["outcome"] = "rejected"
        raise
    finally:
        webhook_events_total.labels(**labels).inc()
        webhook_processing_seconds.observe(time.perf_counter() - started)


class StripeWebhookController(Controller):
    path = "/api/webhooks"
    tags = ["webhooks"]

    @post(
        "/stripe",
        operation_id="receiveStripeWebhook",
        status_code=200,
        request_max_body_size=MAX_WEBHOOK_BYTES,
        summary="Receive a Stripe event",
        description="Stripe's event as sent (at most 256 KiB), verified on the raw body.",
        responses=error_responses(400, 404, 413, 415, 429, 500),
    )
    async def receive(
        self,
        request: Request[Any, Any, Any],
        body: RawBody,
        services: NamedDependency[Services],
        signature: Annotated[str | None, HeaderParameter(name=HEADER)] = None,
    ) -> WebhookAck:
        with measured() as labels:
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                raise ValidationException("send the body as application/json", status_code=415)
            verify_stripe_signature(body, signature, services.webhook_secrets)
            event = parse_event(body)
            labels["type"] = event.event_type
            ingested = await services.steps.run(
                lambda store, wallets: aingest_stripe_event(event, store, wallets)
            )
            labels["outcome"] = ingested.outcome.value
        return WebhookAck(received=True)

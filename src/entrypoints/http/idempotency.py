"""HTTP side of idempotency: first answers as bytes, replays with `Idempotent-Replayed`."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import msgspec
from litestar import Response
from litestar.enums import MediaType

from application.errors import IdempotencyConflict
from application.idempotency import (
    IdempotentRequests,
    Outcome,
    Revalidate,
    validate_idempotency_key,
)
from application.ports import PaymentStore, StoredResponse
from entrypoints import metrics
from entrypoints.http.errors import api_error, error_body
from entrypoints.metrics import duplicate_payment_attempts_total

log = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"


def optional_key(key: str | None) -> str | None:
    """The Idempotency-Key header, checked before it takes a lock (400 when malformed)."""
    return None if key is None else validate_idempotency_key(key)


def json_outcome(body: msgspec.Struct, status_code: int) -> Outcome:
    return Outcome(response=StoredResponse(status_code=status_code, body=msgspec.json.encode(body)))


def error_outcome(error: Exception, *, keep: bool) -> Outcome:
    """An error answer the idempotency layer may keep; counted like every error response."""
    api = api_error(error)
    metrics.payment_errors_total.labels(code=api.code).inc()
    body = msgspec.json.encode(error_body(api))
    return Outcome(response=StoredResponse(status_code=api.status, body=body), keep=keep)


def while_payment_unchanged(store: PaymentStore) -> Revalidate:
    """For a derived key: a cached charge answer replays only while its payment is still in
    the state it told; once the payment moved on (refunded, canceled, ...) the request runs
    again, and the durable path answers with the payment as it is, or charges anew."""

    def revalidate(stored: StoredResponse) -> StoredResponse | None:
        try:
            told = msgspec.json.decode(stored.body, type=dict[str, Any])
            payment_id, status = UUID(str(told["paymentId"])), told["status"]
        except (msgspec.DecodeError, KeyError, ValueError):
            return stored  # not a payment's answer: nothing it could have left
        payment = store.find(payment_id)
        return stored if payment is not None and payment.status.value == status else None

    return revalidate


async def idempotent_response(
    requests: IdempotentRequests,
    *,
    route: str,
    user_id: str,
    key: str,
    fingerprint: str,
    handle: Callable[[], Awaitable[Outcome]],
    revalidate: Revalidate | None = None,
) -> Response[Any]:
    try:
        answer = await requests.run(
            scope=route,
            user_id=user_id,
            key=key,
            fingerprint=fingerprint,
            handle=handle,
            revalidate=revalidate,
        )
    except IdempotencyConflict:
        duplicate_payment_attempts_total.labels(route=route, outcome="in_flight").inc()
        raise
    headers = {}
    if answer.replayed:
        duplicate_payment_attempts_total.labels(route=route, outcome="replayed").inc()
        log.info(
            "idempotent replay: route=%s key_hash=%s status=%s",
            route, answer.key_hash, answer.response.status_code,
        )  # fmt: skip
        headers[REPLAYED_HEADER] = "true"
    return json_response(answer.response, headers)


def json_response(response: StoredResponse, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        content=response.body,
        status_code=response.status_code,
        media_type=MediaType.JSON,
        headers=headers,
    )

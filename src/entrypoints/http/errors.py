"""The one place where errors become HTTP responses with the contract's codes."""

import logging
import sqlite3
from dataclasses import dataclass

import psycopg
from eventsourcing.persistence import ConnectionPoolClosedError, PersistenceError
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from application.errors import (
    CardNotAccepted,
    ConcurrencyConflict,
    Forbidden,
    GatewayError,
    IdempotencyConflict,
    IdempotencyMismatch,
    IdempotencyStoreError,
    NotFound,
    PaymentDeclined,
    PaymentMethodRejected,
    ServiceUnavailable,
    StorageError,
)
from domain.errors import AlreadyRefunded, InvalidInput, InvalidStatus, PaymentMethodNotSaved
from entrypoints import metrics
from entrypoints.http.schemas import ErrorDetail, ErrorResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiError:
    status: int
    code: str
    message: str
    payment_id: str | None = None


_BY_TYPE: list[tuple[type[Exception], int, str]] = [
    (InvalidInput, 400, "VALIDATION_ERROR"),
    (InvalidStatus, 400, "INVALID_STATUS"),
    (AlreadyRefunded, 400, "ALREADY_REFUNDED"),
    (NotFound, 404, "NOT_FOUND"),
    (PaymentMethodNotSaved, 404, "NOT_FOUND"),
    (Forbidden, 403, "FORBIDDEN"),
    (PaymentMethodRejected, 400, "PAYMENT_METHOD_ERROR"),
    (CardNotAccepted, 402, "CARD_DECLINED"),
    (IdempotencyMismatch, 422, "IDEMPOTENCY_MISMATCH"),
    (IdempotencyConflict, 409, "IDEMPOTENCY_CONFLICT"),
    (IdempotencyStoreError, 500, "IDEMPOTENCY_ERROR"),
    (ServiceUnavailable, 503, "SERVICE_UNAVAILABLE"),
    (GatewayError, 500, "STRIPE_ERROR"),
    (StorageError, 500, "DB_ERROR"),
    (ConcurrencyConflict, 500, "DB_ERROR"),
]

# A database failure the adapters did not translate (a missing table, a lost connection, a
# failed statement): its text names tables and SQL, so the client gets a fixed message.
_STORAGE_FAILURES = (PersistenceError, ConnectionPoolClosedError, psycopg.Error, sqlite3.Error)
DB_UNAVAILABLE = "the payment database is unavailable; retry later"

_HTTP_CODES = {
    401: ("UNAUTHORIZED", "a valid bearer token is required"),
    403: ("FORBIDDEN", "you may not do this"),
    404: ("NOT_FOUND", "not found"),
    405: ("VALIDATION_ERROR", "method not allowed on this route"),
    413: ("VALIDATION_ERROR", "request body too large"),
    415: ("VALIDATION_ERROR", "unsupported content type; send application/json"),
    429: ("RATE_LIMITED", "too many requests; retry after the time given in Retry-After"),
}

_WIRE_NAMES = {"idempotency_key": "Idempotency-Key"}  # parameters named as the client sends them
_PASSED_HEADERS = {
    "retry-after", "allow", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining",
    "ratelimit-reset",
}  # fmt: skip


def api_error(error: Exception) -> ApiError:
    if isinstance(error, PaymentDeclined):
        code = "INSUFFICIENT_FUNDS" if error.insufficient_funds else "CARD_DECLINED"
        return ApiError(402, code, str(error), error.payment_id)
    if isinstance(error, PaymentMethodRejected):
        return ApiError(400, "PAYMENT_METHOD_ERROR", str(error), error.payment_id)
    for kind, status, code in _BY_TYPE:
        if isinstance(error, kind):
            return ApiError(status, code, str(error))
    if isinstance(error, _STORAGE_FAILURES):
        return ApiError(HTTP_500_INTERNAL_SERVER_ERROR, "DB_ERROR", DB_UNAVAILABLE)
    if isinstance(error, ValidationException) and error.status_code == 415:
        return ApiError(415, "VALIDATION_ERROR", "send the body as application/json")
    if isinstance(error, ValidationException):
        return ApiError(400, "VALIDATION_ERROR", _validation_message(error))
    if isinstance(error, NotAuthorizedException):
        return ApiError(401, "UNAUTHORIZED", "a valid bearer token is required")
    if isinstance(error, PermissionDeniedException):
        return ApiError(403, "FORBIDDEN", "you may not do this")
    if isinstance(error, HTTPException) and error.status_code < 500:
        default = ("VALIDATION_ERROR", "the request is not valid")
        code, message = _HTTP_CODES.get(error.status_code, default)
        return ApiError(error.status_code, code, message)
    return ApiError(HTTP_500_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "something went wrong")


def _validation_message(error: ValidationException) -> str:
    problems = error.extra if isinstance(error.extra, list) else []
    parts = []
    for problem in problems:
        if isinstance(problem, dict):
            key = _WIRE_NAMES.get(str(problem.get("key")), problem.get("key"))
            message = str(problem.get("message", "invalid"))
            parts.append(f"{key}: {message}" if key and key != "data" else message)
    return "; ".join(parts) or "the request body is not valid JSON of the expected shape"


def error_body(error: ApiError) -> ErrorResponse:
    return ErrorResponse(
        success=False,
        error=ErrorDetail(code=error.code, message=error.message),
        payment_id=error.payment_id,
    )


def error_response(
    error: ApiError, headers: dict[str, str] | None = None
) -> Response[ErrorResponse]:
    return Response(error_body(error), status_code=error.status, headers=headers)


def handle_exception(request: Request, exc: Exception) -> Response[ErrorResponse]:  # type: ignore[type-arg]
    error = api_error(exc)
    if error.status >= 500 and not isinstance(exc, ServiceUnavailable):  # 503s are counted
        log.error(
            "request failed: %s %s -> %s (%s)",
            request.method, request.url.path, error.code, type(exc).__name__,
            exc_info=error.code in ("INTERNAL_ERROR", "DB_ERROR"),  # the cause, for operators
        )  # fmt: skip
    metrics.payment_errors_total.labels(code=error.code).inc()
    headers: dict[str, str] = {}
    if isinstance(exc, HTTPException) and exc.headers:
        headers = {k: v for k, v in exc.headers.items() if k.lower() in _PASSED_HEADERS}
    if error.status == 429 and not any(k.lower() == "retry-after" for k in headers):
        reset = next((v for k, v in headers.items() if k.lower() == "ratelimit-reset"), "60")
        headers["Retry-After"] = str(max(int(reset), 1))
    if isinstance(exc, IdempotencyConflict):
        headers["Retry-After"] = "1"
    if isinstance(exc, ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(error, headers)

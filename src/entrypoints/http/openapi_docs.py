"""What the OpenAPI document declares beyond the generated: error bodies, links, strictness."""

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Link,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Schema,
)
from msgspec import Struct

from entrypoints.http.schemas import ErrorResponse

_MEANING = {
    400: "VALIDATION_ERROR, PAYMENT_METHOD_ERROR, ALREADY_REFUNDED or INVALID_STATUS",
    401: "UNAUTHORIZED: a missing, malformed, expired or wrongly signed bearer token",
    402: "CARD_DECLINED or INSUFFICIENT_FUNDS; the body carries paymentId",
    403: "FORBIDDEN: the operation needs a role the caller lacks",
    404: "NOT_FOUND: no such payment, or not the caller's",
    409: "IDEMPOTENCY_CONFLICT: a request with this key is still running",
    413: "VALIDATION_ERROR: the body is larger than 64 KiB",
    415: "VALIDATION_ERROR: the body is not application/json",
    422: "IDEMPOTENCY_MISMATCH: the key was used with another body",
    429: "RATE_LIMITED: retry after the seconds in Retry-After",
    500: "STRIPE_ERROR, DB_ERROR, IDEMPOTENCY_ERROR or INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE: at capacity, out of time, or Stripe is throttling; see Retry-After",
}
API = (400, 401, 429, 500)
RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
    description="Seconds to wait before the next request",
    required=True,
)
WITH_BODY = (*API, 413, 415)


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=ErrorResponse, description=_MEANING[status], generate_examples=False
        )
        for status in sorted(set(statuses))
    }


def refine_document(document: OpenAPI, strict_bodies: tuple[type[Struct], ...]) -> None:
    """Say what the generated document leaves out: links, and bodies that refuse unknown fields."""
    schemas = document.components.schemas if document.components else None
    for name, schema in (schemas or {}).items():
        if any(name.endswith(body.__name__) for body in strict_bodies):
            schema.additional_properties = False
    _link_payment_operations(document)
    for path in (document.paths or {}).values():
        for operation in (getattr(path, method) for method in ("get", "post", "delete")):
            for status in ("429", "503"):
                answer = (operation.responses or {}).get(status) if operation else None
                if isinstance(answer, OpenAPIResponse):
                    answer.headers = {"Retry-After": RETRY_AFTER}


def _link_payment_operations(document: OpenAPI) -> None:
    """Tell clients (and stateful fuzzing) where a new payment's id goes next."""
    payment_id = "$response.body#/paymentId"
    created = document.paths["/api/payments/process"].post if document.paths else None
    if created is None or created.responses is None:
        return
    answer = created.responses.get("201")
    if isinstance(answer, OpenAPIResponse):
        answer.links = {
            "GetPayment": Link(operation_id="getPayment", parameters={"payment_id": payment_id}),
            "RefundPayment": Link(
                operation_id="refundPayment", request_body={"paymentId": payment_id}
            ),
        }

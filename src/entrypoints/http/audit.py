"""The audit trail of one payment, for admins."""

from datetime import datetime
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from msgspec import Struct

from application.audit import payment_audit_trail
from application.ports import AuditEntry, AuditTrail
from entrypoints.audit_format import camel_keys
from entrypoints.http.openapi_docs import API, error_responses
from entrypoints.http.payments import AnyRequest, parse_payment_id


class CauseOut(Struct, rename="camel", omit_defaults=True):
    request_id: str | None = None
    user_id: str | None = None
    stripe_event_id: str | None = None
    command: str | None = None


class AuditEventOut(Struct, rename="camel"):
    version: int
    type: str
    occurred_at: datetime
    cause: CauseOut | None
    data: dict[str, Any]


class AuditTrailResponse(Struct, rename="camel"):
    payment_id: str
    events: list[AuditEventOut]


def audit_event_out(entry: AuditEntry) -> AuditEventOut:
    return AuditEventOut(
        version=entry.version,
        type=entry.type,
        occurred_at=entry.occurred_at,
        cause=CauseOut(**entry.cause) if entry.cause else None,
        data=camel_keys(entry.data),
    )


class AuditController(Controller):
    path = "/api/payments"
    tags = ["audit"]

    @get(
        "/{payment_id:str}/events",
        operation_id="paymentEvents",
        sync_to_thread=True,
        responses=error_responses(*API, 403, 404),
    )
    def events(
        self, request: AnyRequest, payment_id: FromPath[str], audit: NamedDependency[AuditTrail]
    ) -> AuditTrailResponse:
        wanted = parse_payment_id(payment_id)
        entries = payment_audit_trail(request.user, wanted, trail=audit)
        return AuditTrailResponse(
            payment_id=str(wanted), events=[audit_event_out(e) for e in entries]
        )

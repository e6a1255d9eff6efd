"""The body of an outbound event: the payment as its owner reads it over HTTP, at that event.

Built when sent, from the payment at the event's version, so every try carries the same bytes
and the outbox never holds payment data (in clear or otherwise).
"""

from datetime import datetime

import msgspec
from msgspec import Struct

from application.outbound_events import OutboxEntry
from application.outbox_ports import PaymentVersions
from application.queries import payment_details
from entrypoints.http.schemas import PaymentDetailsResponse, details_response


class RefundData(Struct):
    id: str | None
    amount: int
    status: str


class EventData(Struct, omit_defaults=True):
    payment: PaymentDetailsResponse
    refund: RefundData | None = None


class OutboundEventBody(Struct, rename="camel"):
    id: str
    type: str
    created_at: datetime
    sequence: int
    data: EventData


def render_event(entry: OutboxEntry, versions: PaymentVersions) -> bytes:
    payment = versions.payment_at(entry.payment_id, entry.sequence)
    refund = None
    if entry.refund_number is not None and entry.refund_number in payment.refunds:
        settled = payment.refunds[entry.refund_number]
        refund = RefundData(id=settled.refund_id, amount=settled.amount, status=settled.state.value)
    body = OutboundEventBody(
        id=str(entry.event_id),
        type=entry.type,
        created_at=entry.occurred_at,
        sequence=entry.sequence,
        data=EventData(payment=details_response(payment_details(payment)), refund=refund),
    )
    return msgspec.json.encode(body)

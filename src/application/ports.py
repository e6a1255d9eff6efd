"""Ports: what the application needs from the outside world, as protocols."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.payment import Payment

ChargeStatus = Literal["succeeded", "processing", "requires_action", "failed", "canceled"]
RefundStatus = Literal["succeeded", "pending", "failed"]


@dataclass(frozen=True, kw_only=True)
class ChargeRequest:
    payment_id: UUID
    user_id: str
    amount: int
    currency: str
    payment_method_id: str
    course_id: str | None
    metadata: dict[str, str]
    idempotency_key: str
    customer_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Decline:
    code: str
    decline_code: str | None
    message: str

    @property
    def insufficient_funds(self) -> bool:
        return self.decline_code == "insufficient_funds" or self.code == "insufficient_funds"


@dataclass(frozen=True, kw_only=True)
class ChargeOutcome:
    intent_id: str | None
    status: ChargeStatus
    client_secret: str | None = None
    decline: Decline | None = None


@dataclass(frozen=True, kw_only=True)
class RefundRequest:
    payment_id: UUID
    intent_id: str
    amount: int
    reason: str | None
    idempotency_key: str


@dataclass(frozen=True, kw_only=True)
class RefundOutcome:
    refund_id: str
    status: RefundStatus
    amount: int


class GatewayUnavailable(Exception):
    """The provider did not give a definite answer (timeout, 5xx, rate limit)."""


class PaymentMethodUnusable(Exception):
    """The provider rejected the payment method before any charge was attempted."""


@runtime_checkable
class PaymentGateway(Protocol):
    """Moves money through the card network; Stripe in production."""

    def charge(self, request: ChargeRequest) -> ChargeOutcome: ...

    def retrieve_charge(self, intent_id: str) -> ChargeOutcome: ...

    def client_secret(self, intent_id: str) -> str | None:
        """What the front end needs to finish the PaymentIntent (3-D Secure)."""
        ...

    def refund(self, request: RefundRequest) -> RefundOutcome: ...


@runtime_checkable
class PaymentStore(Protocol):
    """The event store for payments: loads by id, saves new events atomically."""

    def find(self, payment_id: UUID) -> Payment | None: ...

    def save(self, *aggregates: Aggregate) -> int | None: ...


@dataclass(frozen=True, kw_only=True)
class HistoryRow:
    id: UUID
    user_id: str
    amount: int
    currency: str
    status: str
    charge_status: str
    refunded_amount: int
    course_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class HistoryPage:
    items: list[HistoryRow] = field(default_factory=list)
    total: int = 0


@runtime_checkable
class PaymentHistory(Protocol):
    """The read model of each user's payments, newest first."""

    def page(self, user_id: str, *, limit: int, offset: int, status: str | None) -> HistoryPage: ...


@runtime_checkable
class Clock(Protocol):
    """The time now, in UTC; a port so that tests can move it."""

    def now(self) -> datetime: ...


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    aggregate_id: UUID
    aggregate_type: str
    version: int
    type: str
    occurred_at: datetime
    cause: dict[str, str] | None
    data: dict[str, Any]
    position: int | None = None


@runtime_checkable
class AuditTrail(Protocol):
    """Every stored event, decrypted, with the cause recorded beside it: for compliance."""

    def events_of(self, aggregate_id: UUID) -> list[AuditEntry]: ...

    def all_events(self, since: datetime | None = None) -> Iterator[AuditEntry]: ...

"""Finding payments across every user, for the operator console: the query and its port."""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, runtime_checkable
from uuid import UUID

from application.actors import Actor
from application.errors import Forbidden
from domain.errors import InvalidInput
from domain.payment_status import PaymentStatus

MAX_PAGE = 100
MAX_TEXT = 255


@dataclass(frozen=True, kw_only=True)
class OperatorRow:
    """What the console lists of a payment; never its metadata (that stays in the events)."""

    id: UUID
    user_id: str
    amount: int
    currency: str
    status: str
    charge_status: str
    refunded_amount: int
    course_id: str | None
    intent_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class PaymentQuery:
    """One search: at most one of the id kinds, a status, a range of creation times."""

    payment_id: UUID | None = None
    intent_id: str | None = None
    party: str | None = None  # a user id or a course id
    # Text shaped like a payment id that may be a user's or a course's id instead (identity
    # providers issue UUID user ids): searched as one when no payment has that id.
    or_party: str | None = None
    status: str | None = None
    created_from: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    limit: int = 25
    offset: int = 0


@dataclass(frozen=True, kw_only=True)
class OperatorPage:
    items: list[OperatorRow] = field(default_factory=list)
    total: int = 0
    more: bool = False  # more than `total` match: counting stopped there


@runtime_checkable
class PaymentSearch(Protocol):
    """The operator read model: every user's payments, newest first."""

    def search(self, query: PaymentQuery) -> OperatorPage: ...


def payment_query(
    text: str = "",
    *,
    status: str | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    limit: int = 25,
    offset: int = 0,
) -> PaymentQuery:
    """What one search box means: a payment id, a PaymentIntent id, else a user or course id."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise InvalidInput("q", f"must be at most {MAX_TEXT} characters")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise InvalidInput("offset", "must not be negative")
    if status is not None and status not in {s.value for s in PaymentStatus}:
        raise InvalidInput("status", f"'{status}' is not a payment status")
    if created_from and created_to and created_from > created_to:
        raise InvalidInput("to", "must not be before the start of the range")
    return replace(
        _kind_of(text),
        status=status,
        created_from=_midnight(created_from) if created_from else None,
        created_before=_midnight(created_to + timedelta(days=1)) if created_to else None,
        limit=limit,
        offset=offset,
    )


def _kind_of(text: str) -> PaymentQuery:
    if not text:
        return PaymentQuery()
    try:
        return PaymentQuery(payment_id=UUID(text), or_party=text)
    except ValueError:
        pass
    if text.startswith("pi_"):
        return PaymentQuery(intent_id=text)
    return PaymentQuery(party=text)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def find_payments(actor: Actor, query: PaymentQuery, *, search: PaymentSearch) -> OperatorPage:
    if not actor.is_admin:
        raise Forbidden("the console needs the admin role")
    page = search.search(query)
    if page.total == 0 and query.or_party is not None:
        return search.search(replace(query, payment_id=None, party=query.or_party, or_party=None))
    return page

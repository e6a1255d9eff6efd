"""Ports of outbound events: the outbox the projection fills, and where events are sent."""

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from application.outbound_events import Delivery, Moved, OutboxHealth, OutboxRow
from domain.payment import Payment

Status = Literal["pending", "delivered", "parked"]


@dataclass(frozen=True)
class Outcome:
    """What one try did to an outbox row."""

    status: Status
    attempted_at: datetime
    next_attempt_at: datetime | None = None
    error: str | None = None


class Claim(Protocol):
    """A row held by one dispatcher: no other sends it until the claim ends."""

    delivery: Delivery

    def settle(self, outcome: Outcome) -> None: ...


class Outbox(Protocol):
    """The rows to send, one per event and endpoint, and what operators ask of them."""

    def claim(
        self, endpoints: Sequence[str], now: datetime
    ) -> AbstractContextManager[Claim | None]:
        """The oldest due row whose payment has nothing earlier unacknowledged, held."""

    def rows(self, *, parked_only: bool, limit: int) -> list[OutboxRow]: ...

    def redeliver(self, *, event_id: UUID | None, since: datetime | None, now: datetime) -> int:
        """Put rows (delivered or parked) back to be sent now; returns how many."""

    def health(self, endpoints: Sequence[str], now: datetime) -> OutboxHealth: ...

    def move(self, old: str, new: str, now: datetime) -> Moved:
        """Give the rows not yet delivered of endpoint `old` to `new`, due now; drop those whose
        event `new` has already."""


@dataclass(frozen=True)
class OutboundMessage:
    event_id: str
    type: str
    body: bytes


class DeliveryFailed(Exception):
    """The receiver did not acknowledge: a status, a timeout, a refused connection."""


class EventSink(Protocol):
    """One endpoint: a webhook URL, or NATS JetStream."""

    endpoint: str

    def send(self, message: OutboundMessage) -> None:
        """Return once acknowledged; raise DeliveryFailed otherwise."""


class PaymentVersions(Protocol):
    """A payment as it was right after one of its events."""

    def payment_at(self, payment_id: UUID, version: int) -> Payment: ...

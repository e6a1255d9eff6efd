"""Ports: what the application needs from the outside world, as protocols."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.payment import Payment
from domain.saved_card import SavedCard
from domain.stripe_events import StripeEventReceipt
from domain.wallet import Wallet

# "pending": Stripe holds the intent but it has not been confirmed; nothing to record yet.
ChargeStatus = Literal[
    "succeeded", "processing", "requires_action", "failed", "canceled", "pending"
]
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
    advice_code: str | None = None  # Stripe's hint: try_again_later, do_not_try_again, ...

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
    number: int | None = None


@dataclass(frozen=True, kw_only=True)
class RefundOutcome:
    refund_id: str
    status: RefundStatus
    amount: int


class GatewayUnavailable(Exception):
    """The provider did not give a definite answer (timeout, 5xx, rate limit)."""


class GatewayRequestInFlight(GatewayUnavailable):
    """The provider is still running a request with this idempotency key (Stripe's 409)."""


class GatewayThrottled(GatewayUnavailable):
    """The provider refused the request unprocessed (Stripe's 429: rate limit, lock timeout)."""


class PaymentMethodUnusable(Exception):
    """The provider rejected the payment method before any charge was attempted."""


class AmountRefused(Exception):
    """The provider refused the amount before any charge was attempted: below its minimum or
    above its maximum once converted, or not in the currency's whole steps."""


class PaymentMethodNotFound(Exception):
    """The provider has no such payment method, or it belongs to another customer."""


class CardCheckDeclined(Exception):
    """The issuer refused the card when the provider checked it; nothing was charged."""


@runtime_checkable
class PaymentGateway(Protocol):
    """Moves money through the card network; Stripe in production.

    Asynchronous: waiting on the provider holds no thread.
    """

    async def charge(self, request: ChargeRequest) -> ChargeOutcome: ...

    async def retrieve_charge(self, intent_id: str) -> ChargeOutcome: ...

    async def cancel_charge(self, intent_id: str) -> ChargeOutcome:
        """Cancel the PaymentIntent so that nobody can confirm it any more. An intent past
        cancelling (succeeded, processing, already canceled) is answered as it stands; one the
        provider does not have (another account or mode) is answered canceled."""
        ...

    async def client_secret(self, intent_id: str) -> str | None:
        """What the front end needs to finish the PaymentIntent (3-D Secure)."""
        ...

    async def refund(self, request: RefundRequest) -> RefundOutcome: ...

    async def create_customer(self, user_id: str, idempotency_key: str) -> str:
        """A new Customer for the user; the same key always answers the same Customer."""
        ...

    async def find_charge(
        self, payment_id: UUID, customer_id: str, created_after: datetime
    ) -> ChargeOutcome | None:
        """The intent made for our payment, looked up by its metadata when its id was lost."""
        ...

    async def find_refund(
        self, intent_id: str, payment_id: UUID, number: int
    ) -> RefundOutcome | None:
        """Refund number `number` of our payment as the provider sees it, if it exists."""
        ...

    async def attach_payment_method(self, payment_method_id: str, customer_id: str) -> SavedCard:
        """Attach the method to the Customer; what the provider knows of the card, by its id."""
        ...

    async def detach_payment_method(self, payment_method_id: str) -> None:
        """Detach the method for good; one already detached or gone is not an error."""
        ...


@runtime_checkable
class WalletStore(Protocol):
    """Each user's wallet, in the same event store as the payments."""

    def find(self, user_id: str) -> Wallet | None: ...

    def find_by_customer(self, customer_id: str) -> Wallet | None:
        """The wallet whose Stripe Customer this is, if it is one of ours."""
        ...

    def save(self, wallet: Wallet, *others: Aggregate) -> None:
        """Saves the wallet and `others` in one transaction."""
        ...


@runtime_checkable
class PendingPayments(Protocol):
    """Payments whose charge or a refund still waits for the provider's answer."""

    def unsettled(self) -> list[UUID]: ...


@runtime_checkable
class PaymentStore(Protocol):
    """The event store for payments: loads by id, saves new events atomically."""

    def find(self, payment_id: UUID) -> Payment | None: ...

    def save(self, *aggregates: Aggregate) -> int | None: ...


@runtime_checkable
class WebhookStore(PaymentStore, Protocol):
    """The payment store that also knows which Stripe events were taken in, and intent owners."""

    def find_receipt(self, event_id: str) -> StripeEventReceipt | None: ...

    def payment_for_intent(self, intent_id: str) -> UUID | None: ...


class AwaitablePaymentStore(Protocol):
    """The payment store's calls, awaited: an event store that waits on the event loop."""

    async def find(self, payment_id: UUID) -> Payment | None: ...

    async def save(self, *aggregates: Aggregate) -> int | None: ...


class AwaitableWebhookStore(AwaitablePaymentStore, Protocol):
    """The webhook store's calls, awaited."""

    async def find_receipt(self, event_id: str) -> StripeEventReceipt | None: ...

    async def payment_for_intent(self, intent_id: str) -> UUID | None: ...


class AwaitableWalletStore(Protocol):
    """The wallet store's calls, awaited."""

    async def find(self, user_id: str) -> Wallet | None: ...

    async def find_by_customer(self, customer_id: str) -> Wallet | None: ...

    async def save(self, wallet: Wallet, *others: Aggregate) -> None: ...


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
class StoredResponse:
    """The first answer to an idempotent request, replayed byte for byte."""

    status_code: int
    body: bytes


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """This request holds the key's in-flight lock until it completes or releases it."""

    token: str
    fingerprint: str


@dataclass(frozen=True, kw_only=True)
class InFlight:
    fingerprint: str


@dataclass(frozen=True, kw_only=True)
class Completed:
    fingerprint: str
    response: StoredResponse
    stored_as: str = field(default="", compare=False)  # the store's own form, to compare with


Claim = Claimed | InFlight | Completed


class IdempotencyStoreUnavailable(Exception):
    """The idempotency store did not answer; the durable path must decide alone."""


@runtime_checkable
class IdempotencyStore(Protocol):
    """The fast path of idempotency: in-flight locks and first responses, both expiring."""

    def claim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        """Take the key's lock, or say who has it or what it answered."""
        ...

    def complete(
        self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float
    ) -> None: ...

    def release(self, key: str, claim: Claimed) -> None: ...

    def supersede(self, key: str, stale: Completed, claim: Claimed, *, lock_ttl: float) -> Claim:
        """Replace an answer that no longer holds by `claim`'s lock, if it is still the one
        stored (or nothing is); else say what is there now."""
        ...

    def ping(self) -> None: ...


@runtime_checkable
class AwaitableIdempotencyStore(IdempotencyStore, Protocol):
    """An IdempotencyStore whose calls can also be awaited on the event loop, holding no
    thread: a client of its own that does not block (Redis), or no waiting at all (memory)."""

    async def aclaim(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim: ...

    async def acomplete(
        self, key: str, claim: Claimed, response: StoredResponse, *, ttl: float
    ) -> None: ...

    async def arelease(self, key: str, claim: Claimed) -> None: ...

    async def asupersede(
        self, key: str, stale: Completed, claim: Claimed, *, lock_ttl: float
    ) -> Claim: ...


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

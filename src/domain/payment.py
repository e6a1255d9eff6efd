"""The Payment aggregate: one charge of a saved card and the refunds taken from it."""

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import payment_events as facts
from domain.errors import AlreadyRefunded, InvalidStatus, RefundExceedsAmount
from domain.money import check_step
from domain.payment_status import (
    CHARGE_RANK,
    REFUND_RANK,
    PaymentStatus,
    Refund,
    RefundState,
    derive_status,
    payment_id_for,
    refund_by_request,
)


class Payment(Aggregate):
    """One charge of a saved card, and every refund and dispute that follows it."""

    Initiated = facts.Initiated
    IntentCreated = facts.IntentCreated
    RequiresAction = facts.RequiresAction
    Processing = facts.Processing
    Succeeded = facts.Succeeded
    Failed = facts.Failed
    Canceled = facts.Canceled
    IntentClosed = facts.IntentClosed
    RefundRequested = facts.RefundRequested
    RefundPending = facts.RefundPending
    Refunded = facts.Refunded
    RefundFailed = facts.RefundFailed
    RefundOverstated = facts.RefundOverstated
    DisputeOpened = facts.DisputeOpened
    DisputeClosed = facts.DisputeClosed
    StripeEventReceived = facts.StripeEventReceived

    @staticmethod
    def create_id(user_id: str, idempotency_key: str, attempt: int) -> UUID:
        return payment_id_for(user_id, idempotency_key, attempt)

    @event(Initiated)
    def __init__(
        self,
        *,
        user_id: str,
        amount: int,
        currency: str,
        payment_method_id: str,
        course_id: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
        key_derived: bool,
        attempt: int,
        request_hash: str,
    ) -> None:
        self.user_id = user_id
        self.amount = amount
        self.currency = currency
        self.payment_method_id = payment_method_id
        self.course_id = course_id
        self.metadata = metadata
        self.idempotency_key = idempotency_key
        self.key_derived = key_derived
        self.attempt = attempt
        self.request_hash = request_hash
        self.intent_id: str | None = None
        self.charge_status = PaymentStatus.PENDING
        self.failure: dict[str, str | None] | None = None
        self.intent_closed = False  # a failed payment's intent, canceled: it can never be paid
        self.refunds: dict[int, Refund] = {}
        self.disputes: dict[str, str] = {}
        self.opened_disputes: set[str] = set()  # whose opening (amount, reason) is recorded
        self.stripe_events: dict[str, str] = {}
        self.overstated_refunds: dict[str, int] = {}  # refund id -> amount Stripe reported

    # -- what the customer sees -------------------------------------------------------

    @property
    def status(self) -> PaymentStatus:
        return derive_status(self.charge_status, self.refunded_amount, self.amount)

    @property
    def refunded_amount(self) -> int:
        return sum(r.amount for r in self.refunds.values() if r.state is RefundState.SUCCEEDED)

    @property
    def reserved_amount(self) -> int:
        """Refunds asked of Stripe whose outcome is not known yet."""
        in_flight = (RefundState.REQUESTED, RefundState.PENDING)
        return sum(r.amount for r in self.refunds.values() if r.state in in_flight)

    @property
    def refundable_amount(self) -> int:
        return max(self.amount - self.refunded_amount - self.reserved_amount, 0)

    @property
    def is_settled(self) -> bool:
        return CHARGE_RANK[self.charge_status] >= CHARGE_RANK[PaymentStatus.FAILED]

    # -- facts from the gateway (idempotent, monotonic) --------------------------------

    def record_intent(self, intent_id: str) -> None:
        if self.intent_id is None:
            self._intent_created(intent_id=intent_id)

    @event(IntentCreated)
    def _intent_created(self, intent_id: str) -> None:
        self.intent_id = intent_id

    def _moves_up_to(self, status: PaymentStatus) -> bool:
        return CHARGE_RANK[status] > CHARGE_RANK[self.charge_status]

    def mark_requires_action(self) -> None:
        if self._moves_up_to(PaymentStatus.REQUIRES_ACTION):
            self._requires_action()

    @event(RequiresAction)
    def _requires_action(self) -> None:
        self.charge_status = PaymentStatus.REQUIRES_ACTION

    def mark_processing(self) -> None:
        if self._moves_up_to(PaymentStatus.PROCESSING):
            self._processing()

    @event(Processing)
    def _processing(self) -> None:
        self.charge_status = PaymentStatus.PROCESSING

    def mark_succeeded(self) -> None:
        if self._moves_up_to(PaymentStatus.SUCCEEDED):
            self._succeeded()

    @event(Succeeded)
    def _succeeded(self) -> None:
        self.charge_status = PaymentStatus.SUCCEEDED
        self.failure = None

    def mark_failed(
        self, code: str, decline_code: str | None, message: str, advice_code: str | None = None
    ) -> None:
        if self._moves_up_to(PaymentStatus.FAILED):
            self._failed(
                code=code, decline_code=decline_code, message=message, advice_code=advice_code
            )

    @event(Failed)
    def _failed(
        self, code: str, decline_code: str | None, message: str, advice_code: str | None
    ) -> None:
        self.charge_status = PaymentStatus.FAILED
        self.failure = {
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "advice_code": advice_code,
        }

    def mark_canceled(self, reason: str | None) -> None:
        """Stripe canceled the intent. A failed payment stays failed, its decline kept: its
        intent, which Stripe kept open for another card, is closed."""
        if self.charge_status is PaymentStatus.FAILED and self.intent_id is not None:
            if not self.intent_closed:
                self._intent_closed_for_good(reason=reason)
        elif self._moves_up_to(PaymentStatus.CANCELED):
            self._canceled(reason=reason)

    @property
    def confirmable(self) -> bool:
        """Failed, with a PaymentIntent Stripe still lets be confirmed: after a decline or a
        failed 3-D Secure check the intent waits for another card, and a checkout page holding
        its client secret can still pay it."""
        failed = self.charge_status is PaymentStatus.FAILED
        return failed and self.intent_id is not None and not self.intent_closed

    @event(IntentClosed)
    def _intent_closed_for_good(self, reason: str | None) -> None:
        self.intent_closed = True

    @event(Canceled)
    def _canceled(self, reason: str | None) -> None:
        self.charge_status = PaymentStatus.CANCELED
        self.failure = None

    # -- refunds ------------------------------------------------------------------------

    def refund_requested_with(self, requested_by: str, idempotency_key: str) -> Refund | None:
        """The refund an earlier request with this (requester, key) reserved, if any."""
        return refund_by_request(self.refunds.values(), requested_by, idempotency_key)

    def request_refund(
        self,
        amount: int | None,
        reason: str | None,
        *,
        requested_by: str | None = None,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> Refund:
        """Reserve part of the payment for a refund before Stripe is asked for it."""
        if self.status is PaymentStatus.REFUNDED:
            raise AlreadyRefunded("this payment has already been refunded in full")
        if self.charge_status is not PaymentStatus.SUCCEEDED:
            raise InvalidStatus(f"a {self.status.value} payment cannot be refunded")
        refundable = self.refundable_amount
        requested = refundable if amount is None else amount
        if requested <= 0 or requested > refundable:
            raise RefundExceedsAmount(requested, refundable)
        if amount is not None:  # the rest of a payment made in whole steps is in whole steps
            check_step(requested, self.currency)
        number = len(self.refunds) + 1
        self._refund_requested(
            number=number,
            amount=requested,
            reason=reason,
            requested_by=requested_by,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        return self.refunds[number]

    @event(RefundRequested)
    def _refund_requested(
        self,
        number: int,
        amount: int,
        reason: str | None,
        requested_by: str | None = None,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> None:
        self.refunds[number] = Refund(
            number,
            amount,
            RefundState.REQUESTED,
            reason=reason,
            requested_by=requested_by,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )

    def _refund_for(self, number: int | None, refund_id: str) -> Refund | None:
        if number is not None and number in self.refunds:
            return self.refunds[number]
        return next((r for r in self.refunds.values() if r.refund_id == refund_id), None)

    def mark_refund_pending(self, number: int | None, refund_id: str, amount: int) -> None:
        self._advance_refund(number, refund_id, amount, RefundState.PENDING)

    def record_refund(self, number: int | None, refund_id: str, amount: int) -> None:
        self._advance_refund(number, refund_id, amount, RefundState.SUCCEEDED)

    def record_refund_failure(self, number: int | None, refund_id: str, amount: int) -> None:
        self._advance_refund(number, refund_id, amount, RefundState.FAILED)

    def _advance_refund(
        self, number: int | None, refund_id: str, amount: int, state: RefundState
    ) -> None:
        refund = self._refund_for(number, refund_id)
        if refund is None:
            # A refund made outside the service (Stripe's dashboard): Stripe's word stands.
            number = len(self.refunds) + 1
            self._refund_requested(number=number, amount=amount, reason="made outside the service")
            refund = self.refunds[number]
        elif REFUND_RANK[state] <= REFUND_RANK[refund.state] and not (
            refund.released_unsent and state is not RefundState.FAILED
        ):
            # Only up the ladder, but for Stripe's word on a refund given up unheard of:
            # Stripe made it after all (a send still on its way), and what it made stands.
            return
        if state is RefundState.PENDING:
            self._refund_pending(number=refund.number, refund_id=refund_id)
        elif state is RefundState.SUCCEEDED:
            left = self.amount - self.refunded_amount
            if refund.amount > left:  # never more refunded than paid, whatever Stripe says
                self._refund_overstated(
                    number=refund.number, refund_id=refund_id, reported=refund.amount, recorded=left
                )
            self._refunded(number=refund.number, refund_id=refund_id, amount=refund.amount)
        else:
            reversed_amount = refund.amount if refund.state is RefundState.SUCCEEDED else 0
            self._refund_failed(
                number=refund.number, refund_id=refund_id, reversed_amount=reversed_amount
            )

    @event(RefundPending)
    def _refund_pending(self, number: int, refund_id: str) -> None:
        self.refunds[number].state = RefundState.PENDING
        self.refunds[number].refund_id = refund_id

    @event(Refunded)
    def _refunded(self, number: int, refund_id: str, amount: int) -> None:
        self.refunds[number].state = RefundState.SUCCEEDED
        self.refunds[number].refund_id = refund_id

    @event(RefundFailed)
    def _refund_failed(self, number: int, refund_id: str, reversed_amount: int) -> None:
        self.refunds[number].state = RefundState.FAILED
        self.refunds[number].refund_id = refund_id or self.refunds[number].refund_id

    @event(RefundOverstated)
    def _refund_overstated(
        self, number: int | None, refund_id: str, reported: int, recorded: int
    ) -> None:
        if number is not None:  # None: version 1, whose refund was recorded already capped
            self.refunds[number].amount = recorded
        self.overstated_refunds[refund_id] = reported

    # -- disputes -----------------------------------------------------------------------

    def open_dispute(self, dispute_id: str, amount: int, reason: str) -> None:
        """Recorded once, in any order: an opening that arrives after the closing still
        records its amount and reason, and the dispute stays closed."""
        if dispute_id not in self.opened_disputes:
            self._dispute_opened(dispute_id=dispute_id, amount=amount, reason=reason)

    @event(DisputeOpened)
    def _dispute_opened(self, dispute_id: str, amount: int, reason: str) -> None:
        self.opened_disputes.add(dispute_id)
        self.disputes.setdefault(dispute_id, "open")

    def close_dispute(self, dispute_id: str, outcome: str) -> None:
        if self.disputes.get(dispute_id) != "closed":
            self._dispute_closed(dispute_id=dispute_id, outcome=outcome)

    @event(DisputeClosed)
    def _dispute_closed(self, dispute_id: str, outcome: str) -> None:
        self.disputes[dispute_id] = "closed"

    def note_stripe_event(self, event_id: str, event_type: str, created: int, outcome: str) -> None:
        """Keep in this payment's own trail which Stripe event was taken in and what it did."""
        if event_id not in self.stripe_events:
            self._stripe_event(
                event_id=event_id, event_type=event_type, created=created, outcome=outcome
            )

    @event(StripeEventReceived)
    def _stripe_event(self, event_id: str, event_type: str, created: int, outcome: str) -> None:
        self.stripe_events[event_id] = outcome

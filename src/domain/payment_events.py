"""The facts a Payment records, declared once; `Payment` adopts them as its own events."""

from typing import Any

from eventsourcing.domain import Aggregate


class Initiated(Aggregate.Created):
    user_id: str
    amount: int
    currency: str
    payment_method_id: str
    course_id: str | None
    metadata: dict[str, str]
    idempotency_key: str
    key_derived: bool
    attempt: int
    request_hash: str


class IntentCreated(Aggregate.Event):
    intent_id: str


class RequiresAction(Aggregate.Event):
    pass


class Processing(Aggregate.Event):
    pass


class Succeeded(Aggregate.Event):
    pass


class Failed(Aggregate.Event):
    """Version 2 added Stripe's `advice_code`; version 1 events are upcast without one."""

    class_version = 2
    code: str
    decline_code: str | None
    message: str
    advice_code: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["advice_code"] = None


class Canceled(Aggregate.Event):
    reason: str | None


class IntentClosed(Aggregate.Event):
    """The PaymentIntent of a failed payment was canceled at Stripe: nobody can pay it any more.
    The payment stays failed, with its decline."""

    reason: str | None


class RefundRequested(Aggregate.Event):
    number: int
    amount: int
    reason: str | None
    requested_by: str | None
    idempotency_key: str | None
    request_hash: str | None

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state.update(requested_by=None, idempotency_key=None, request_hash=None)


class RefundPending(Aggregate.Event):
    number: int
    refund_id: str


class Refunded(Aggregate.Event):
    number: int
    refund_id: str
    amount: int


class RefundFailed(Aggregate.Event):
    number: int
    refund_id: str
    reversed_amount: int


class DisputeOpened(Aggregate.Event):
    dispute_id: str
    amount: int
    reason: str


class DisputeClosed(Aggregate.Event):
    dispute_id: str
    outcome: str


class RefundOverstated(Aggregate.Event):
    """A refund settled for more than was left of the payment: recorded up to what was left.

    Version 2 names the refund it caps. Version 1, for outside refunds only, came before the
    refund it capped, whose `RefundRequested` already carries the capped amount (and before
    none when nothing was left): it is upcast with no number, and caps nothing when applied.
    """

    class_version = 2
    number: int | None
    refund_id: str
    reported: int
    recorded: int

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # Events written with a number before the class had a version are read as version 1
        # too: they keep their number.
        state.setdefault("number", None)


class StripeEventReceived(Aggregate.Event):
    event_id: str
    event_type: str
    created: int
    outcome: str

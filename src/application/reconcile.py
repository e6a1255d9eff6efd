"""Settle payments whose outcome is unknown from what Stripe itself says happened."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.changes import change_payment
from application.charges import apply_charge_outcome, apply_refund_outcome, charge_at_stripe
from application.ports import (
    ChargeOutcome,
    GatewayUnavailable,
    PaymentGateway,
    PaymentStore,
    PendingPayments,
    RefundOutcome,
    WalletStore,
)
from domain.errors import InvalidInput
from domain.payment import Payment
from domain.payment_status import Refund, RefundState

NEVER_REACHED_STRIPE = "no PaymentIntent for this payment exists at Stripe"
# A charge or refund may still be on its way this long after its last event: the request's
# deadline (PAYMENTS_REQUEST_TIMEOUT, 10 s by default), then, once Stripe is asked, the call
# runs to its end with stripe-python's retries (3 tries of up to 5 + 30 s by default). Asked
# sooner, Stripe knows nothing of it yet: the charge would be canceled as never having
# reached Stripe, freeing its derived key for a retry that charges again while the first one
# succeeds, and the refund marked failed while Stripe makes it.
SHORTEST_OLDER_THAN = timedelta(minutes=5)


@dataclass(frozen=True, kw_only=True)
class Settlement:
    payment_id: str
    before: str
    after: str


@dataclass(frozen=True, kw_only=True)
class ReconcileReport:
    settled: list[Settlement]
    still_open: list[str]
    unanswered: list[str]


async def reconcile(
    *,
    older_than: timedelta,
    now: datetime,
    pending: PendingPayments,
    store: PaymentStore,
    wallets: WalletStore,
    gateway: PaymentGateway,
) -> ReconcileReport:
    """Ask Stripe about every unsettled payment untouched for `older_than`; record its facts."""
    if older_than < SHORTEST_OLDER_THAN:
        minutes = SHORTEST_OLDER_THAN // timedelta(minutes=1)
        raise InvalidInput(
            "older_than",
            f"must be at least {minutes} minutes: a charge or refund may still be in flight",
        )
    settled: list[Settlement] = []
    still_open: list[str] = []
    unanswered: list[str] = []
    for payment_id in await asyncio.to_thread(pending.unsettled):
        payment = await asyncio.to_thread(store.find, payment_id)
        if payment is None or not _open(payment) or payment.modified_on > now - older_than:
            continue
        try:
            after, changed = await _settle(payment, store=store, wallets=wallets, gateway=gateway)
        except GatewayUnavailable:
            unanswered.append(str(payment_id))
            continue
        if changed:
            settled.append(
                Settlement(
                    payment_id=str(payment_id),
                    before=_describe(payment),
                    after=_describe(after),
                )
            )
        if _open(after):
            still_open.append(str(payment_id))
    return ReconcileReport(settled=settled, still_open=still_open, unanswered=unanswered)


async def _settle(
    payment: Payment, *, store: PaymentStore, wallets: WalletStore, gateway: PaymentGateway
) -> tuple[Payment, bool]:
    """The payment after recording Stripe's facts, and whether this run recorded any. A failed
    payment's intent that Stripe still keeps open for another card is then canceled: a checkout
    page holding its client secret could otherwise pay it after the purchase was bought anew."""
    charge: ChargeOutcome | None = None
    if not payment.is_settled:
        charge = await _charge_at_stripe(payment, wallets=wallets, gateway=gateway)
    refunds: dict[int, RefundOutcome | None] = {}
    if payment.intent_id:
        for refund in _in_flight(payment):
            refunds[refund.number] = await gateway.find_refund(
                payment.intent_id, payment.id, refund.number
            )

    def record(p: Payment) -> None:
        if not p.is_settled:
            if charge is None:
                p.mark_canceled(NEVER_REACHED_STRIPE)
            else:
                apply_charge_outcome(p, charge)
        for number, outcome in refunds.items():
            apply_refund_outcome(p, number, outcome)

    after, changed = await _recording(store, payment, record)
    if after.confirmable and after.intent_id:
        try:
            closing = await gateway.cancel_charge(after.intent_id)
        except GatewayUnavailable:
            if changed:
                return after, changed  # what was recorded is reported; the next run closes it
            raise
        after, closed = await _recording(store, payment, lambda p: apply_charge_outcome(p, closing))
        changed = changed or closed
    return after, changed


async def _recording(
    store: PaymentStore, payment: Payment, facts: Callable[[Payment], None]
) -> tuple[Payment, bool]:
    """The payment after `facts` were applied to it and saved, and whether any were new."""

    def apply(p: Payment) -> tuple[Payment, bool]:
        version = p.version
        facts(p)
        return p, p.version != version

    return await asyncio.to_thread(change_payment, store, payment.id, apply)


async def _charge_at_stripe(
    payment: Payment, *, wallets: WalletStore, gateway: PaymentGateway
) -> ChargeOutcome | None:
    wallet = None if payment.intent_id else await asyncio.to_thread(wallets.find, payment.user_id)
    return await charge_at_stripe(payment, wallet.customer_id if wallet else None, gateway)


def _in_flight(payment: Payment) -> list[Refund]:
    return [
        r
        for r in payment.refunds.values()
        if r.state in (RefundState.REQUESTED, RefundState.PENDING)
    ]


def _open(payment: Payment) -> bool:
    return not payment.is_settled or bool(_in_flight(payment)) or payment.confirmable


def _describe(payment: Payment) -> str:
    notes = [f"refund {r.number} {r.state.value}" for r in payment.refunds.values()]
    if payment.confirmable:
        notes.insert(0, "intent open")
    elif payment.intent_closed:
        notes.insert(0, "intent closed")
    return f"{payment.status.value}" + (f" ({', '.join(notes)})" if notes else "")

"""Load, change, save: retried when another writer got to the same payment first."""

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.awaited import ImmediatePayments, run_now
from application.errors import ConcurrencyConflict, NotFound
from application.ports import AwaitablePaymentStore, PaymentStore
from domain.payment import Payment
from domain.stripe_events import PaymentIntentLink

T = TypeVar("T")
MAX_ATTEMPTS = 8


def load_payment(store: PaymentStore, payment_id: UUID) -> Payment:
    payment = store.find(payment_id)
    if payment is None:
        raise NotFound("payment not found")
    return payment


def intent_link(payment: Payment, intent_before: str | None) -> list[Aggregate]:
    """The PaymentIntent's owner, to be saved in the same transaction as its IntentCreated."""
    if intent_before is None and payment.intent_id is not None:
        return [PaymentIntentLink(intent_id=payment.intent_id, payment_id=payment.id)]
    return []


def change_payment(
    store: PaymentStore,
    payment_id: UUID,
    change: Callable[[Payment], T],
    *,
    current: Payment | None = None,
) -> T:
    """Apply `change` to the latest version; the aggregate's invariants decide each retry.

    `current` is a copy the caller has just loaded or saved: the first attempt uses it, and a
    version conflict (someone else wrote in between) reloads it.
    """
    return run_now(achange_payment(ImmediatePayments(store), payment_id, change, current=current))


async def achange_payment(
    store: AwaitablePaymentStore,
    payment_id: UUID,
    change: Callable[[Payment], T],
    *,
    current: Payment | None = None,
) -> T:
    """change_payment over an awaitable store."""
    for _ in range(MAX_ATTEMPTS - 1):
        try:
            return await _change_once(store, payment_id, change, current)
        except ConcurrencyConflict:
            current = None
    return await _change_once(store, payment_id, change, None)


async def _change_once(
    store: AwaitablePaymentStore,
    payment_id: UUID,
    change: Callable[[Payment], T],
    current: Payment | None,
) -> T:
    payment = current if current is not None else await store.find(payment_id)
    if payment is None:
        raise NotFound("payment not found")
    intent_before = payment.intent_id
    result = change(payment)
    await store.save(payment, *intent_link(payment, intent_before))
    return result

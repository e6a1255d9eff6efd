"""Load, change, save: retried when another writer got to the same payment first."""

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from application.errors import ConcurrencyConflict, NotFound
from application.ports import PaymentStore
from domain.payment import Payment

T = TypeVar("T")
MAX_ATTEMPTS = 8


def load_payment(store: PaymentStore, payment_id: UUID) -> Payment:
    payment = store.find(payment_id)
    if payment is None:
        raise NotFound("payment not found")
    return payment


def change_payment(store: PaymentStore, payment_id: UUID, change: Callable[[Payment], T]) -> T:
    """Apply `change` to the latest version; the aggregate's invariants decide each retry."""
    for _ in range(MAX_ATTEMPTS - 1):
        payment = load_payment(store, payment_id)
        result = change(payment)
        try:
            store.save(payment)
        except ConcurrencyConflict:
            continue
        return result
    payment = load_payment(store, payment_id)
    result = change(payment)
    store.save(payment)
    return result

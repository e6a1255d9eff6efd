"""Event-store steps written once, awaited on the event loop or run whole in a worker thread.

A step that reads and saves aggregates is a coroutine over the awaitable store ports. Where the
event store can wait on the event loop (PostgreSQL), a handler awaits the step there and holds
no thread. Otherwise (SQLite, test fakes) the same step runs to its end in one trip to a worker
thread, over the synchronous store wrapped so that none of its calls suspends (`run_now`).
"""

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.ports import (
    AwaitableWalletStore,
    AwaitableWebhookStore,
    PaymentStore,
    WalletStore,
    WebhookStore,
)
from domain.payment import Payment
from domain.stripe_events import StripeEventReceipt
from domain.wallet import Wallet

T = TypeVar("T")
Step = Callable[[AwaitableWebhookStore, AwaitableWalletStore], Coroutine[Any, Any, T]]


def run_now(step: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends, computed in the calling thread."""
    try:
        step.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    step.close()
    raise RuntimeError("an event-store step over synchronous stores suspended")


class ImmediatePayments:
    """AwaitablePaymentStore over a synchronous PaymentStore: each call completes at once."""

    def __init__(self, store: PaymentStore) -> None:
        self.store = store

    async def find(self, payment_id: UUID) -> Payment | None:
        return self.store.find(payment_id)

    async def save(self, *aggregates: Aggregate) -> int | None:
        return self.store.save(*aggregates)


class ImmediateWebhooks(ImmediatePayments):
    """AwaitableWebhookStore over a synchronous WebhookStore."""

    def __init__(self, store: WebhookStore) -> None:
        super().__init__(store)
        self.webhooks = store

    async def find_receipt(self, event_id: str) -> StripeEventReceipt | None:
        return self.webhooks.find_receipt(event_id)

    async def payment_for_intent(self, intent_id: str) -> UUID | None:
        return self.webhooks.payment_for_intent(intent_id)


class ImmediateWallets:
    """AwaitableWalletStore over a synchronous WalletStore."""

    def __init__(self, wallets: WalletStore) -> None:
        self.wallets = wallets

    async def find(self, user_id: str) -> Wallet | None:
        return self.wallets.find(user_id)

    async def find_by_customer(self, customer_id: str) -> Wallet | None:
        return self.wallets.find_by_customer(customer_id)

    async def save(self, wallet: Wallet, *others: Aggregate) -> None:
        self.wallets.save(wallet, *others)


@dataclass(frozen=True, slots=True)
class AwaitedStores:
    """The event store's awaitable calls, where it has them."""

    payments: AwaitableWebhookStore
    wallets: AwaitableWalletStore


@dataclass(frozen=True, slots=True)
class EventStoreSteps:
    """Runs a step on the awaitable stores if there are some, else in a worker thread."""

    store: WebhookStore
    wallets: WalletStore
    awaited: AwaitedStores | None = None

    async def run(self, step: Step[T]) -> T:
        if self.awaited is not None:
            return await step(self.awaited.payments, self.awaited.wallets)
        store, wallets = ImmediateWebhooks(self.store), ImmediateWallets(self.wallets)
        return await asyncio.to_thread(lambda: run_now(step(store, wallets)))

"""What the busiest routes use, given to them as one dependency.

Litestar resolves a handler's several dependencies concurrently, starting a task group and a
task per dependency on every request, and checks each value against its annotation (slow for
protocols). The routes that take money or Stripe's events take this one object instead.
"""

from dataclasses import dataclass

from application.awaited import EventStoreSteps
from application.idempotency import IdempotentRequests
from application.ports import PaymentGateway, WalletStore, WebhookStore
from entrypoints.http.admission import Admission


@dataclass(frozen=True, slots=True)
class Services:
    store: WebhookStore
    gateway: PaymentGateway
    wallets: WalletStore
    steps: EventStoreSteps
    idempotency: IdempotentRequests
    admission: Admission
    webhook_secrets: tuple[str, ...]

"""Take in one verified Stripe event exactly once, as commands on the payment it concerns."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from application.awaited import ImmediateWallets, ImmediateWebhooks, run_now
from application.causes import caused_by, stripe_event
from application.changes import MAX_ATTEMPTS, intent_link
from application.errors import ConcurrencyConflict, PaymentNotRecordedYet
from application.payment_method_events import PaymentMethodChange, record_change
from application.ports import (
    AwaitableWalletStore,
    AwaitableWebhookStore,
    WalletStore,
    WebhookStore,
)
from application.stripe_commands import ACKNOWLEDGED_TYPES, PAYMENT_COMMANDS, intent_id_of
from domain.payment import Payment
from domain.stripe_events import StripeEventReceipt

log = logging.getLogger(__name__)
# An event naming a payment id we do not hold is answered 404 (Stripe sends it again) while it
# may be a payment still being saved: the payment is saved before Stripe is asked, so that is
# a matter of moments. Past this age it is no payment of this deployment's (another system on
# the same Stripe account that names its payments the same way, a database restored from
# before it): kept as `ignored` and logged, or Stripe would retry it for three days and then
# disable the endpoint for every payment's events.
NOT_RECORDED_GRACE_SECONDS = 3600


class Outcome(StrEnum):
    APPLIED = "applied"
    NO_CHANGE = "no_change"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    ACKNOWLEDGED = "acknowledged"
    UNHANDLED = "unhandled"
    REFUND_CAPPED = "refund_capped"  # applied, but Stripe reported more refunded than left


@dataclass(frozen=True, kw_only=True)
class IngestStripeEvent:
    event_id: str
    event_type: str
    created: int
    data_object: Mapping[str, Any]
    payment_method_change: PaymentMethodChange | None = None
    received_at: int | None = None  # when it reached us (Unix seconds); None: not known


@dataclass(frozen=True, kw_only=True)
class Ingested:
    outcome: Outcome
    payment_id: str | None = None


def ingest_stripe_event(
    cmd: IngestStripeEvent, *, store: WebhookStore, wallets: WalletStore | None = None
) -> Ingested:
    """aingest_stripe_event over synchronous stores, in the calling thread."""
    awaitable_wallets = ImmediateWallets(wallets) if wallets is not None else None
    return run_now(aingest_stripe_event(cmd, ImmediateWebhooks(store), awaitable_wallets))


async def aingest_stripe_event(
    cmd: IngestStripeEvent,
    store: AwaitableWebhookStore,
    wallets: AwaitableWalletStore | None = None,
) -> Ingested:
    """Apply the event and save its receipt in one transaction; a second copy collides.

    The first attempt does not look for a receipt: most events arrive once, and a copy of one
    already taken in collides on its receipt when saving, so nothing of it is kept. Each later
    attempt looks first, and answers a copy as a duplicate.
    """
    for attempt in range(MAX_ATTEMPTS - 1):
        try:
            return await _ingest_once(cmd, store, wallets, look_for_receipt=attempt > 0)
        except ConcurrencyConflict:
            continue  # another copy of this event, or another event of this payment, was first
    return await _ingest_once(cmd, store, wallets, look_for_receipt=True)


async def _ingest_once(
    cmd: IngestStripeEvent,
    store: AwaitableWebhookStore,
    wallets: AwaitableWalletStore | None,
    *,
    look_for_receipt: bool,
) -> Ingested:
    seen = await store.find_receipt(cmd.event_id) if look_for_receipt else None
    if seen is not None:
        return Ingested(outcome=Outcome.DUPLICATE, payment_id=seen.payment_id)
    if cmd.payment_method_change is not None and wallets is not None:
        return await _ingest_wallet_change(cmd, cmd.payment_method_change, store, wallets)
    apply = PAYMENT_COMMANDS.get(cmd.event_type)
    if apply is None:
        known = cmd.event_type in ACKNOWLEDGED_TYPES
        return await _keep(cmd, store, Outcome.ACKNOWLEDGED if known else Outcome.UNHANDLED)
    payment = await _payment_for(cmd, store)
    if payment is None or not _same_intent(payment, cmd.data_object):
        return await _keep(cmd, store, Outcome.IGNORED)
    intent_before, version_before = payment.intent_id, payment.version
    overstated_before = len(payment.overstated_refunds)
    apply(payment, cmd.data_object)
    outcome = Outcome.APPLIED if payment.version > version_before else Outcome.NO_CHANGE
    if len(payment.overstated_refunds) > overstated_before:
        outcome = Outcome.REFUND_CAPPED
    payment.note_stripe_event(cmd.event_id, cmd.event_type, cmd.created, outcome.value)
    kept = await _keep(cmd, store, outcome, payment, *intent_link(payment, intent_before))
    if outcome is Outcome.REFUND_CAPPED:  # logged once kept: a copy that collides is not
        log.error("refund above the payment's amount capped: payment=%s", payment.id)
    return kept


async def _ingest_wallet_change(
    cmd: IngestStripeEvent,
    change: PaymentMethodChange,
    store: AwaitableWebhookStore,
    wallets: AwaitableWalletStore,
) -> Ingested:
    """A card changed at Stripe: the owner's wallet and the receipt are saved together."""
    wallet = await wallets.find_by_customer(change.customer_id) if change.customer_id else None
    if wallet is None:
        return await _keep(cmd, store, Outcome.IGNORED)
    version_before = wallet.version
    record_change(wallet, change)
    changed = wallet.version > version_before
    return await _keep(cmd, store, Outcome.APPLIED if changed else Outcome.NO_CHANGE, wallet)


async def _keep(
    cmd: IngestStripeEvent, store: AwaitableWebhookStore, outcome: Outcome, *changed: Any
) -> Ingested:
    payment_id = str(changed[0].id) if changed and isinstance(changed[0], Payment) else None
    receipt = StripeEventReceipt(
        event_id=cmd.event_id,
        event_type=cmd.event_type,
        stripe_created=cmd.created,
        outcome=outcome.value,
        payment_id=payment_id,
    )
    with caused_by(stripe_event(cmd.event_id)):
        await store.save(*changed, receipt)
    return Ingested(outcome=outcome, payment_id=payment_id)


async def _payment_for(cmd: IngestStripeEvent, store: AwaitableWebhookStore) -> Payment | None:
    """Ours by the payment id we put in the metadata, else by the PaymentIntent we recorded."""
    obj = cmd.data_object
    metadata = obj.get("metadata")
    named = metadata.get("payment_id") if isinstance(metadata, Mapping) else None
    payment_id = _uuid(named)
    if payment_id is not None:
        payment = await store.find(payment_id)
        if payment is None:
            age = None if cmd.received_at is None else cmd.received_at - cmd.created
            if age is None or age <= NOT_RECORDED_GRACE_SECONDS:
                raise PaymentNotRecordedYet("the payment this event names is not recorded yet")
            log.warning(
                "stripe event %s names payment %s, not recorded here %ss after the event: "
                "kept as ignored",
                cmd.event_id,
                payment_id,
                age,
            )
        return payment
    intent_id = intent_id_of(obj)
    owner = await store.payment_for_intent(intent_id) if intent_id else None
    return await store.find(owner) if owner else None


def _same_intent(payment: Payment, obj: Mapping[str, Any]) -> bool:
    """An event about another PaymentIntent than the one recorded must not move this payment."""
    intent_id = intent_id_of(obj)
    return payment.intent_id is None or intent_id is None or intent_id == payment.intent_id


def _uuid(value: object) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None

"""Charge a saved card exactly once per (user, idempotency key)."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.awaited import EventStoreSteps
from application.changes import achange_payment
from application.charges import apply_charge_outcome, charge_at_stripe
from application.customers import customer_for
from application.deadlines import NO_DEADLINE, Deadline
from application.errors import (
    ConcurrencyConflict,
    GatewayError,
    IdempotencyConflict,
    IdempotencyMismatch,
    PaymentDeclined,
    PaymentMethodRejected,
    ServiceUnavailable,
)
from application.idempotency import CONFLICT, validate_idempotency_key
from application.ports import (
    AmountRefused,
    AwaitablePaymentStore,
    AwaitableWalletStore,
    ChargeOutcome,
    ChargeRequest,
    GatewayRequestInFlight,
    GatewayUnavailable,
    PaymentGateway,
    PaymentMethodUnusable,
    WalletStore,
    WebhookStore,
)
from application.provider_calls import call_provider, shielded
from application.wallet_charges import payment_method_to_charge
from domain.errors import DomainError, InvalidInput
from domain.metadata import validated_metadata
from domain.money import Money
from domain.payment import Payment
from domain.payment_status import PaymentStatus, payment_id_for
from domain.wallet import Wallet

PAYMENT_METHOD_ERROR = "payment_method_error"
AMOUNT_REFUSED = "amount_refused"  # Stripe refused the amount; nothing was charged
UNCHARGEABLE_AMOUNT = "the payment provider cannot charge this amount in this currency"
NO_ANSWER = "the payment provider did not answer; retry with the same Idempotency-Key"
NOT_ANSWERED = "the payment provider did not answer; retry shortly"
NOT_CLOSED = "an earlier attempt at this purchase is still being paid; retry shortly"
RETRY_AFTER = 5
# A payment in one of these can no longer answer "charge me for this": declined, canceled,
# or refunded in full.
RELEASES_DERIVED_KEY = frozenset(
    {PaymentStatus.FAILED, PaymentStatus.CANCELED, PaymentStatus.REFUNDED}
)
# Stripe keeps an idempotency key for at least 24 hours, then may forget it: a charge sent
# again with it after that creates a second PaymentIntent. Past this age (an hour short, for
# clocks that differ), a payment sent before is looked up at Stripe before it is sent again.
STRIPE_KEEPS_KEYS = timedelta(hours=23)


@dataclass(frozen=True, kw_only=True)
class ProcessPayment:
    user_id: str
    amount: int
    currency: str
    payment_method_id: str | None = None
    course_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentReceipt:
    payment_id: str
    intent_id: str | None
    status: str
    client_secret: str | None


def derived_key(cmd: ProcessPayment) -> str:
    """The key of a request sent without one: the same purchase maps to the same key."""
    method = cmd.payment_method_id or ""
    parts = [cmd.user_id, cmd.course_id or "", str(cmd.amount), cmd.currency.lower()]
    return hashlib.sha256("\x1f".join([*parts, method]).encode()).hexdigest()


def request_identity(cmd: ProcessPayment, wallets: WalletStore) -> tuple[str, str]:
    """The request's idempotency key and body fingerprint.

    Without a header the key is derived from the purchase and the card it would charge (the
    default card when none is named), and so is the fingerprint: naming the default card or
    leaving it out is the same request.
    """
    return _identity(cmd, wallets.find(cmd.user_id) if identity_needs_wallet(cmd) else None)


def identity_needs_wallet(cmd: ProcessPayment) -> bool:
    """Only a request without a key that names no card is identified by the default card."""
    return not cmd.idempotency_key and cmd.payment_method_id is None


def _identity(cmd: ProcessPayment, wallet: Wallet | None) -> tuple[str, str]:
    if cmd.idempotency_key:
        return cmd.idempotency_key, request_hash(cmd)
    method = cmd.payment_method_id
    if method is None:
        default = wallet.default if wallet is not None else None
        method = default.payment_method_id if default is not None else None
    resolved = replace(cmd, payment_method_id=method)
    return derived_key(resolved), request_hash(resolved)


def request_hash(cmd: ProcessPayment) -> str:
    """What "the same request" means for one key: the body, normalised."""
    body = {
        "amount": cmd.amount,
        "currency": cmd.currency,
        "paymentMethodId": cmd.payment_method_id,
        "courseId": cmd.course_id,
        "metadata": cmd.metadata,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def process_payment(
    cmd: ProcessPayment,
    *,
    store: WebhookStore,
    gateway: PaymentGateway,
    wallets: WalletStore,
    deadline: Deadline = NO_DEADLINE,
    steps: EventStoreSteps | None = None,
) -> PaymentReceipt:
    """Waiting on the gateway holds no thread; event-store steps are awaited where the store
    allows it (`steps`), else each runs whole in a worker thread."""
    money = Money.charge(cmd.amount, cmd.currency)
    metadata = validated_metadata(cmd.metadata)
    if cmd.payment_method_id == "":
        raise InvalidInput("paymentMethodId", "must not be empty")
    if cmd.idempotency_key:
        validate_idempotency_key(cmd.idempotency_key)
    if steps is None:
        steps = EventStoreSteps(store=store, wallets=wallets)

    async def find_or_create(
        payments: AwaitablePaymentStore, wallet_store: AwaitableWalletStore
    ) -> tuple[Wallet | None, Payment]:
        """The wallet, then the payment it stands for."""
        wallet = await wallet_store.find(cmd.user_id)
        key, fingerprint = _identity(cmd, wallet)
        payment = await _initiate(
            cmd,
            money,
            metadata,
            key=key,
            fingerprint=fingerprint,
            key_derived=not cmd.idempotency_key,
            store=payments,
            method=lambda: payment_method_to_charge(wallet, cmd.payment_method_id),
        )
        return wallet, payment

    wallet, payment = await steps.run(find_or_create)
    closed: set[UUID] = set()
    while not cmd.idempotency_key and payment.confirmable:
        # A failed purchase is bought anew only once its PaymentIntent can no longer be paid.
        if payment.id in closed:  # Stripe is still paying it (processing): wait for its word
            raise ServiceUnavailable(NOT_CLOSED, retry_after=RETRY_AFTER)
        closed.add(payment.id)
        await _close(payment, gateway=gateway, steps=steps, deadline=deadline)
        wallet, payment = await steps.run(find_or_create)
    if payment.charge_status is PaymentStatus.PENDING:
        resumed = await _resume(
            payment, gateway=gateway, steps=steps, wallet=wallet, deadline=deadline
        )
        if resumed is not None:
            return resumed
        return await _charge(
            payment, gateway=gateway, steps=steps, wallets=wallets, wallet=wallet, deadline=deadline
        )
    return await _answer_for(payment, gateway=gateway)


async def _close(
    payment: Payment, *, gateway: PaymentGateway, steps: EventStoreSteps, deadline: Deadline
) -> None:
    """Cancel the payment's PaymentIntent at Stripe and record what Stripe says of it: closed,
    or paid meanwhile (then the purchase is paid for and is not charged again)."""
    assert payment.intent_id is not None
    intent_id = payment.intent_id
    try:
        outcome = await call_provider(lambda: gateway.cancel_charge(intent_id), deadline)
    except GatewayUnavailable:
        raise GatewayError(NOT_ANSWERED) from None
    await steps.run(
        lambda payments, _: achange_payment(
            payments, payment.id, lambda p: _applied(p, outcome), current=payment
        )
    )


async def _resume(
    payment: Payment,
    *,
    gateway: PaymentGateway,
    steps: EventStoreSteps,
    wallet: Wallet | None,
    deadline: Deadline,
) -> PaymentReceipt | None:
    """A pending payment an earlier request may have sent to Stripe, answered from what Stripe
    has of it instead of sent again: its PaymentIntent when one is recorded, or, once Stripe
    may have forgotten its idempotency key, the intent found by its metadata. None: Stripe has
    none of it (or it is new), and it is to be sent, with its key."""
    young = datetime.now(UTC) - payment.created_on < STRIPE_KEEPS_KEYS
    if payment.intent_id is None and young:
        return None  # the key still answers for an intent made with it
    customer_id = wallet.customer_id if wallet else None
    try:
        outcome = await call_provider(
            lambda: charge_at_stripe(payment, customer_id, gateway), deadline
        )
    except GatewayUnavailable:
        raise GatewayError(NO_ANSWER) from None
    if outcome is None:
        return None
    return await _recorded(payment, outcome, steps=steps, gateway=gateway)


async def _initiate(
    cmd: ProcessPayment,
    money: Money,
    metadata: dict[str, str],
    *,
    key: str,
    fingerprint: str,
    key_derived: bool,
    store: AwaitablePaymentStore,
    method: Callable[[], str],
) -> Payment:
    """The payment this request stands for: found by its deterministic id, or created.

    The wallet is consulted only to create one, so a replay answers as the first request did.
    """

    async def created(attempt: int) -> Payment | None:
        payment = Payment(
            user_id=cmd.user_id,
            amount=money.amount,
            currency=money.currency,
            payment_method_id=method(),
            course_id=cmd.course_id,
            metadata=metadata,
            idempotency_key=key,
            key_derived=key_derived,
            attempt=attempt,
            request_hash=fingerprint,
        )
        try:
            await store.save(payment)
        except ConcurrencyConflict:
            return None  # a request with this key created it first: read theirs
        return payment

    # Most keys are new: try to create the payment before looking for it. A key used before
    # collides on saving (nothing is kept), or finds no card to charge now: either way the
    # payment is then read, and answered as the first request was.
    try:
        first = await created(0)
    except (DomainError, PaymentMethodRejected):
        first = None
    if first is not None:
        return first
    attempt = 0
    while True:
        payment = await store.find(payment_id_for(cmd.user_id, key, attempt))
        if payment is None:
            payment = await created(attempt)
            if payment is None:
                continue
            return payment
        if key_derived and payment.confirmable:
            return payment  # closed at Stripe before the purchase is bought anew
        if key_derived and payment.status in RELEASES_DERIVED_KEY:
            attempt += 1  # the purchase is no longer paid for: the same request charges anew
            continue
        if payment.request_hash != fingerprint:
            raise IdempotencyMismatch(
                "this Idempotency-Key was already used with a different request"
            )
        return payment


async def _charge(
    payment: Payment,
    *,
    gateway: PaymentGateway,
    steps: EventStoreSteps,
    wallets: WalletStore,
    wallet: Wallet | None,
    deadline: Deadline,
) -> PaymentReceipt:
    try:
        customer_id = await customer_for(
            payment.user_id, wallets=wallets, gateway=gateway, known=wallet, deadline=deadline
        )
    except GatewayUnavailable:
        raise GatewayError(NO_ANSWER) from None
    request = ChargeRequest(
        payment_id=payment.id,
        user_id=payment.user_id,
        amount=payment.amount,
        currency=payment.currency,
        payment_method_id=payment.payment_method_id,
        course_id=payment.course_id,
        metadata=payment.metadata,
        idempotency_key=f"payment-{payment.id}",
        customer_id=customer_id,
    )
    # Once Stripe is asked, its answer is recorded even if the request is abandoned meanwhile.
    return await shielded(_charge_and_record(payment, request, gateway, steps, deadline))


async def _charge_and_record(
    payment: Payment,
    request: ChargeRequest,
    gateway: PaymentGateway,
    steps: EventStoreSteps,
    deadline: Deadline,
) -> PaymentReceipt:
    try:
        outcome = await call_provider(lambda: gateway.charge(request), deadline)
    except GatewayRequestInFlight:
        raise IdempotencyConflict(CONFLICT) from None
    except GatewayUnavailable:
        raise GatewayError(NO_ANSWER) from None
    except AmountRefused as error:
        refused = str(error) or UNCHARGEABLE_AMOUNT
        await _refused(payment, steps, AMOUNT_REFUSED, refused)
        raise InvalidInput("amount", refused) from None
    except PaymentMethodUnusable as error:
        decline = str(error) or "The payment method cannot be used."
        await _refused(payment, steps, PAYMENT_METHOD_ERROR, decline)
        raise PaymentMethodRejected(decline, payment_id=str(payment.id)) from None
    return await _recorded(payment, outcome, steps=steps, gateway=gateway)


async def _refused(payment: Payment, steps: EventStoreSteps, code: str, message: str) -> None:
    """Stripe refused the request before charging anything: the payment failed with `code`."""
    await steps.run(
        lambda payments, _: achange_payment(
            payments, payment.id, lambda p: p.mark_failed(code, None, message)
        )
    )


async def _recorded(
    payment: Payment, outcome: ChargeOutcome, *, steps: EventStoreSteps, gateway: PaymentGateway
) -> PaymentReceipt:
    """Stripe's answer recorded on the payment, and the payment's answer."""
    updated = await steps.run(
        lambda payments, _: achange_payment(
            payments, payment.id, lambda p: _applied(p, outcome), current=payment
        )
    )
    return await _answer_for(updated, gateway=gateway, client_secret=outcome.client_secret)


def _applied(payment: Payment, outcome: ChargeOutcome) -> Payment:
    apply_charge_outcome(payment, outcome)
    return payment


async def _answer_for(
    payment: Payment, *, gateway: PaymentGateway, client_secret: str | None = None
) -> PaymentReceipt:
    if payment.charge_status is PaymentStatus.FAILED:
        failure = payment.failure or {}
        message = failure.get("message") or "Your card was declined."
        if failure.get("code") == AMOUNT_REFUSED:
            raise InvalidInput("amount", failure.get("message") or UNCHARGEABLE_AMOUNT)
        if failure.get("code") == PAYMENT_METHOD_ERROR:
            raise PaymentMethodRejected(message, payment_id=str(payment.id))
        raise PaymentDeclined(
            message,
            payment_id=str(payment.id),
            insufficient_funds="insufficient_funds"
            in (failure.get("code"), failure.get("decline_code")),
        )
    if client_secret is None and payment.intent_id:
        try:
            client_secret = await gateway.client_secret(payment.intent_id)
        except GatewayUnavailable:
            raise GatewayError("the payment provider did not answer; retry shortly") from None
    return PaymentReceipt(
        payment_id=str(payment.id),
        intent_id=payment.intent_id,
        status=payment.status.value,
        client_secret=client_secret,
    )

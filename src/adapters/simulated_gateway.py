"""A payment gateway that behaves like Stripe test mode, for running without Stripe."""

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.simulated_cards import SimulatedCards
from adapters.simulated_ids import simulated_token
from adapters.simulated_webhooks import WebhookSender, stripe_event
from application.ports import (
    ChargeOutcome,
    ChargeRequest,
    ChargeStatus,
    Decline,
    GatewayUnavailable,
    PaymentMethodUnusable,
    RefundOutcome,
    RefundRequest,
)
from domain.saved_card import SavedCard


@dataclass(frozen=True)
class TestCard:
    status: ChargeStatus
    decline: Decline | None = None


_DECLINED = "Your card was declined."
TEST_PAYMENT_METHODS = {
    "pm_card_visa": TestCard("succeeded"),
    "pm_card_visa_debit": TestCard("succeeded"),
    "pm_card_mastercard": TestCard("succeeded"),
    "pm_card_amex": TestCard("succeeded"),
    "pm_card_chargeDeclined": TestCard(
        "failed", Decline(code="card_declined", decline_code="generic_decline", message=_DECLINED)
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "failed",
        Decline(
            code="card_declined",
            decline_code="insufficient_funds",
            message="Your card has insufficient funds.",
        ),
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "failed",
        Decline(code="expired_card", decline_code="expired_card", message="Your card has expired."),
    ),
    "pm_card_authenticationRequired": TestCard("requires_action"),
}
_AUTHENTICATION_FAILED = Decline(
    code="payment_intent_authentication_failure",
    decline_code=None,
    message="The provided PaymentMethod has failed authentication.",
)


# What Stripe lets be canceled (requires_payment_method, _confirmation, _action, _capture).
CANCELABLE = frozenset({"failed", "pending", "requires_action"})


class SimulatedGateway:
    """In-memory PaymentIntents and Refunds; repeats an answer for a repeated idempotency key.

    It answers at once; its lock only guards its dictionaries, never an await.
    """

    def __init__(self, seed: bytes = b"simulated", webhooks: WebhookSender | None = None) -> None:
        self._seed = seed
        self._webhooks = webhooks
        self._lock = threading.Lock()
        self._charges: dict[str, ChargeOutcome] = {}
        self._requests: dict[str, ChargeRequest] = {}
        self._by_key: dict[str, ChargeOutcome] = {}
        self._refunds: dict[str, RefundOutcome] = {}
        self._by_payment: dict[UUID, ChargeOutcome] = {}
        self._refunds_by_number: dict[tuple[UUID, int], RefundOutcome] = {}
        self._customers: dict[str, str] = {}
        self.charge_calls: list[ChargeRequest] = []
        self.refund_calls: list[RefundRequest] = []
        self.cards = SimulatedCards(seed)

    def _token(self, *parts: str) -> str:
        return simulated_token(self._seed, *parts)

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        with self._lock:
            self.charge_calls.append(request)
            if request.idempotency_key in self._by_key:
                return self._by_key[request.idempotency_key]
            test_id = self.cards.chargeable(request.payment_method_id, request.customer_id)
            card = TEST_PAYMENT_METHODS.get(test_id)
            if card is None:
                raise PaymentMethodUnusable(f"No such payment method: '{test_id}'.")
            intent_id = "pi_sim_" + self._token("pi", request.idempotency_key)
            outcome = ChargeOutcome(
                intent_id=intent_id,
                status=card.status,
                client_secret=self._secret(intent_id),
                decline=card.decline,
            )
            self._by_key[request.idempotency_key] = outcome
            self._charges[intent_id] = outcome
            self._requests[intent_id] = request
            self._by_payment[request.payment_id] = outcome
        self._emit(f"payment_intent.{_EVENT_OF[outcome.status]}", self._intent(request, outcome))
        return outcome

    async def retrieve_charge(self, intent_id: str) -> ChargeOutcome:
        with self._lock:
            outcome = self._charges.get(intent_id)
        if outcome is None:
            raise GatewayUnavailable(f"unknown PaymentIntent {intent_id}")
        return outcome

    async def cancel_charge(self, intent_id: str) -> ChargeOutcome:
        with self._lock:
            outcome = self._charges.get(intent_id)
            if outcome is None:
                raise GatewayUnavailable(f"unknown PaymentIntent {intent_id}")
            if outcome.status not in CANCELABLE:
                return outcome
            request = self._requests[intent_id]
            canceled = ChargeOutcome(intent_id=intent_id, status="canceled")
            # A replay of the creating request still answers what it answered (as Stripe's
            # idempotency does); the intent itself, retrieved or listed, is canceled.
            self._charges[intent_id] = self._by_payment[request.payment_id] = canceled
        self._emit("payment_intent.canceled", self._intent(request, canceled))
        return canceled

    def authenticate(self, intent_id: str, *, passed: bool) -> ChargeOutcome:
        """The customer's 3-D Secure check on an intent that requires action, as Stripe.js would
        finish it: paid, or failed (the intent then waits for another card)."""
        with self._lock:
            outcome = self._charges.get(intent_id)
            if outcome is None or outcome.status != "requires_action":
                raise ValueError(f"PaymentIntent {intent_id} does not require action")
            request = self._requests[intent_id]
            finished = replace(outcome, status="succeeded")
            if not passed:
                finished = replace(outcome, status="failed", decline=_AUTHENTICATION_FAILED)
            self._charges[intent_id] = self._by_payment[request.payment_id] = finished
        self._emit(f"payment_intent.{_EVENT_OF[finished.status]}", self._intent(request, finished))
        return finished

    async def client_secret(self, intent_id: str) -> str:
        return self._secret(intent_id)

    def _secret(self, intent_id: str) -> str:
        return f"{intent_id}_secret_{self._token('secret', intent_id)}"

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        with self._lock:
            self.refund_calls.append(request)
            replayed = self._refunds.get(request.idempotency_key)
            if replayed is not None:
                return replayed
            refund_id = "re_sim_" + self._token("re", request.idempotency_key)
            outcome = RefundOutcome(refund_id=refund_id, status="succeeded", amount=request.amount)
            self._refunds[request.idempotency_key] = outcome
            if request.number is not None:
                self._refunds_by_number[(request.payment_id, request.number)] = outcome
        self._emit("refund.created", self._refund(request, outcome))
        return outcome

    async def create_customer(self, user_id: str, idempotency_key: str) -> str:
        with self._lock:
            return self._customers.setdefault(
                idempotency_key, "cus_sim_" + self._token("cus", idempotency_key)
            )

    async def find_charge(
        self, payment_id: UUID, customer_id: str, created_after: datetime
    ) -> ChargeOutcome | None:
        with self._lock:
            return self._by_payment.get(payment_id)

    async def find_refund(
        self, intent_id: str, payment_id: UUID, number: int
    ) -> RefundOutcome | None:
        with self._lock:
            return self._refunds_by_number.get((payment_id, number))

    async def attach_payment_method(self, payment_method_id: str, customer_id: str) -> SavedCard:
        return self.cards.attach(payment_method_id, customer_id)

    async def detach_payment_method(self, payment_method_id: str) -> None:
        self.cards.detach(payment_method_id)

    # -- the webhooks Stripe would send about these objects --------------------------------

    def _emit(self, event_type: str, obj: dict[str, Any]) -> None:
        if self._webhooks is not None:
            self._webhooks.send(stripe_event(event_type, obj, self._token(event_type, obj["id"])))

    def _intent(self, request: ChargeRequest, outcome: ChargeOutcome) -> dict[str, Any]:
        decline = outcome.decline
        return {
            "id": outcome.intent_id,
            "object": "payment_intent",
            "amount": request.amount,
            "currency": request.currency,
            "status": _INTENT_STATUS[outcome.status],
            "metadata": {**request.metadata, "payment_id": str(request.payment_id)},
            "last_payment_error": decline and {
                "code": decline.code, "decline_code": decline.decline_code,
                "message": decline.message,
            },
        }  # fmt: skip

    def _refund(self, request: RefundRequest, outcome: RefundOutcome) -> dict[str, Any]:
        metadata = {"payment_id": str(request.payment_id)}
        if request.number is not None:
            metadata["refund_number"] = str(request.number)
        return {
            "id": outcome.refund_id,
            "object": "refund",
            "amount": outcome.amount,
            "payment_intent": request.intent_id,
            "status": outcome.status,
            "metadata": metadata,
        }


_EVENT_OF = {
    "succeeded": "succeeded",
    "processing": "processing",
    "requires_action": "requires_action",
    "failed": "payment_failed",
    "canceled": "canceled",
}
_INTENT_STATUS = {**_EVENT_OF, "failed": "requires_payment_method"}

"""Turn what the gateway said about a charge or a refund into facts on the payment."""

from datetime import timedelta

from application.ports import ChargeOutcome, PaymentGateway, RefundOutcome
from domain.payment import Payment
from domain.payment_status import RefundState

# The widest clock difference between us and Stripe that a lookup by creation time allows.
CLOCK_SLACK = timedelta(hours=1)


async def charge_at_stripe(
    payment: Payment, customer_id: str | None, gateway: PaymentGateway
) -> ChargeOutcome | None:
    """What Stripe has of the payment's charge: its recorded PaymentIntent, else the intent made
    for it, found by its `payment_id` among the user's Customer's; None when Stripe has none."""
    if payment.intent_id:
        return await gateway.retrieve_charge(payment.intent_id)
    if customer_id is None:
        return None  # a charge is only ever sent once the user's Customer is recorded
    return await gateway.find_charge(payment.id, customer_id, payment.created_on - CLOCK_SLACK)


def apply_refund_outcome(payment: Payment, number: int, outcome: RefundOutcome | None) -> None:
    """Stripe's word on refund `number`; None: Stripe has no such refund, so one still only
    requested never reached it and its amount is released."""
    if outcome is None:
        if payment.refunds[number].state is RefundState.REQUESTED:
            payment.record_refund_failure(number, "", payment.refunds[number].amount)
    elif outcome.status == "succeeded":
        payment.record_refund(number, outcome.refund_id, outcome.amount)
    elif outcome.status == "pending":
        payment.mark_refund_pending(number, outcome.refund_id, outcome.amount)
    else:
        payment.record_refund_failure(number, outcome.refund_id, outcome.amount)


def apply_charge_outcome(payment: Payment, outcome: ChargeOutcome) -> None:
    if outcome.intent_id:
        payment.record_intent(outcome.intent_id)
    if outcome.status == "succeeded":
        payment.mark_succeeded()
    elif outcome.status == "processing":
        payment.mark_processing()
    elif outcome.status == "requires_action":
        payment.mark_requires_action()
    elif outcome.status == "pending":
        return
    elif outcome.status == "canceled":
        payment.mark_canceled(None)
    elif outcome.decline is not None:
        decline = outcome.decline
        payment.mark_failed(
            decline.code, decline.decline_code, decline.message, decline.advice_code
        )
    else:
        payment.mark_failed("payment_failed", None, "The payment could not be completed.")

"""Turn what the gateway said about a charge into facts on the payment."""

from application.ports import ChargeOutcome
from domain.payment import Payment


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

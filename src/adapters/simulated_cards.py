"""Payment methods as Stripe test mode keeps them: test ids attach as new `pm_` objects."""

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.simulated_ids import simulated_token
from application.ports import CardCheckDeclined, PaymentMethodNotFound, PaymentMethodUnusable
from domain.saved_card import SavedCard


@dataclass(frozen=True)
class TestCardDetails:
    brand: str
    last4: str
    attach_declined: bool = False


# What Stripe returns for its documented test payment methods (brand and last four digits).
TEST_CARD_DETAILS = {
    "pm_card_visa": TestCardDetails("visa", "4242"),
    "pm_card_visa_debit": TestCardDetails("visa", "5556"),
    "pm_card_mastercard": TestCardDetails("mastercard", "4444"),
    "pm_card_amex": TestCardDetails("amex", "0005"),
    "pm_card_chargeDeclined": TestCardDetails("visa", "0002", attach_declined=True),
    "pm_card_chargeDeclinedInsufficientFunds": TestCardDetails("visa", "9995"),
    "pm_card_chargeDeclinedExpiredCard": TestCardDetails("visa", "0069"),
    "pm_card_authenticationRequired": TestCardDetails("visa", "3155"),
}
TEST_EXP_MONTH, TEST_EXP_YEAR = 12, 2034


@dataclass
class _Method:
    card: SavedCard
    test_id: str
    customer_id: str | None = None
    detached: bool = False


class SimulatedCards:
    """The simulated gateway's payment methods: attach, detach, and who may charge which."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._methods: dict[str, _Method] = {}

    def attach(self, payment_method_id: str, customer_id: str) -> SavedCard:
        with self._lock:
            method = self._methods.get(payment_method_id) or self._created(payment_method_id)
            if method.detached:
                raise PaymentMethodUnusable(
                    "This payment method was detached and cannot be used again."
                )
            if method.customer_id not in (None, customer_id):
                raise PaymentMethodNotFound(payment_method_id)
            if TEST_CARD_DETAILS[method.test_id].attach_declined:
                raise CardCheckDeclined("Your card was declined.")
            method.customer_id = customer_id
            return method.card

    def _created(self, test_id: str) -> _Method:
        details = TEST_CARD_DETAILS.get(test_id)
        if details is None:
            raise PaymentMethodNotFound(test_id)
        pm_id = "pm_sim_" + simulated_token(self._seed, "pm", test_id, str(len(self._methods)))
        card = SavedCard(
            payment_method_id=pm_id,
            brand=details.brand,
            last4=details.last4,
            exp_month=TEST_EXP_MONTH,
            exp_year=TEST_EXP_YEAR,
            fingerprint=simulated_token(self._seed, "fingerprint", test_id, length=16),
            created_at=datetime.now(UTC),
        )
        self._methods[pm_id] = _Method(card=card, test_id=test_id)
        return self._methods[pm_id]

    def detach(self, payment_method_id: str) -> None:
        with self._lock:
            method = self._methods.get(payment_method_id)
            if method is not None:
                method.detached, method.customer_id = True, None

    def chargeable(self, payment_method_id: str, customer_id: str | None) -> str:
        """The test method behind `payment_method_id`, if this customer may charge it."""
        if payment_method_id in TEST_CARD_DETAILS:
            return payment_method_id
        with self._lock:
            method = self._methods.get(payment_method_id)
        if method is None or method.detached or method.customer_id != customer_id:
            raise PaymentMethodUnusable(f"No such payment method: '{payment_method_id}'.")
        return method.test_id

"""One contract for saving cards through the gateway port, run against every adapter of it."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest
import stripe

from adapters.clock import SystemClock
from adapters.eventstore import EventSourcedPaymentStore, PaymentsApplication
from adapters.simulated_gateway import SimulatedGateway
from adapters.stripe_gateway import StripeGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.errors import CardNotAccepted, NotFound
from application.payment_methods import (
    AddPaymentMethod,
    RemovePaymentMethod,
    add_payment_method,
    remove_payment_method,
)
from application.ports import CardCheckDeclined, PaymentGateway, PaymentMethodNotFound
from application.wallet_queries import list_payment_methods

TEST_KEY = "sk_test_contract_0123456789"


class PaymentMethodContract:
    """Attach, list, detach and a declined attach, whichever adapter answers."""

    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        raise NotImplementedError

    def visa(self, gateway: PaymentGateway) -> str:
        return "pm_card_visa"

    def declined_card(self, gateway: PaymentGateway) -> str:
        """A method made for card 4000000000000002, which the issuer declines."""
        raise NotImplementedError

    def customer(self, gateway: PaymentGateway) -> str:
        return asyncio.run(gateway.create_customer("user-1", f"customer-{uuid4()}"))

    def test_attaching_answers_stripes_references_of_the_card(
        self, gateway: PaymentGateway
    ) -> None:
        customer = self.customer(gateway)
        card = asyncio.run(gateway.attach_payment_method(self.visa(gateway), customer))
        assert card.payment_method_id.startswith("pm_")
        assert card.payment_method_id != "pm_card_visa"
        assert (card.brand, card.last4) == ("visa", "4242")
        assert 1 <= card.exp_month <= 12 and card.exp_year >= 2026
        assert card.fingerprint
        assert abs((datetime.now(UTC) - card.created_at).total_seconds()) < 300
        again = asyncio.run(gateway.attach_payment_method(card.payment_method_id, customer))
        assert again == card

    def test_another_customers_or_an_unknown_method_is_not_found(
        self, gateway: PaymentGateway
    ) -> None:
        theirs = asyncio.run(
            gateway.attach_payment_method(self.visa(gateway), self.customer(gateway))
        )
        mine = self.customer(gateway)
        for pm_id in (theirs.payment_method_id, "pm_does_not_exist_123"):
            with pytest.raises(PaymentMethodNotFound):
                asyncio.run(gateway.attach_payment_method(pm_id, mine))

    def test_a_declined_card_is_not_attached(self, gateway: PaymentGateway) -> None:
        with pytest.raises(CardCheckDeclined):
            asyncio.run(
                gateway.attach_payment_method(self.declined_card(gateway), self.customer(gateway))
            )

    def test_detaching_twice_is_not_an_error(self, gateway: PaymentGateway) -> None:
        card = asyncio.run(
            gateway.attach_payment_method(self.visa(gateway), self.customer(gateway))
        )
        asyncio.run(gateway.detach_payment_method(card.payment_method_id))
        asyncio.run(gateway.detach_payment_method(card.payment_method_id))

    def test_a_user_saves_lists_and_removes_cards(self, gateway: PaymentGateway) -> None:
        store = EventSourcedPaymentStore(PaymentsApplication(env={"PERSISTENCE_MODULE": ""}))
        wallets, clock = EventSourcedWalletStore(store.app), SystemClock()
        saved = asyncio.run(add_payment_method(
            AddPaymentMethod(user_id="u1", payment_method_id=self.visa(gateway)),
            wallets=wallets, gateway=gateway, clock=clock,
        ))  # fmt: skip
        with pytest.raises(CardNotAccepted):
            asyncio.run(add_payment_method(
                AddPaymentMethod(user_id="u1", payment_method_id=self.declined_card(gateway)),
                wallets=wallets, gateway=gateway, clock=clock,
            ))  # fmt: skip
        listed = list_payment_methods("u1", wallets=wallets, clock=clock)
        assert [(e.card, e.is_default) for e in listed] == [(saved.card, True)]
        pm_id = saved.card.payment_method_id
        asyncio.run(remove_payment_method(
            RemovePaymentMethod(user_id="u1", payment_method_id=pm_id),
            wallets=wallets, gateway=gateway,
        ))  # fmt: skip
        assert list_payment_methods("u1", wallets=wallets, clock=clock) == []
        with pytest.raises(NotFound):
            asyncio.run(remove_payment_method(
                RemovePaymentMethod(user_id="u1", payment_method_id=pm_id),
                wallets=wallets, gateway=gateway,
            ))  # fmt: skip


class TestSimulatedGateway(PaymentMethodContract):
    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        return SimulatedGateway()

    def declined_card(self, gateway: PaymentGateway) -> str:
        return "pm_card_chargeDeclined"


@pytest.mark.integration
class TestStripeGatewayOnLocalstripe(PaymentMethodContract):
    @pytest.fixture
    def gateway(self, localstripe_url: str) -> PaymentGateway:
        self.stripe_js = stripe.StripeClient(TEST_KEY, base_addresses={"api": localstripe_url})
        return StripeGateway(TEST_KEY, api_base=localstripe_url, max_network_retries=0)

    def declined_card(self, gateway: PaymentGateway) -> str:
        # What Stripe.js does in the customer's browser: the number goes to Stripe, never to us.
        method = self.stripe_js.v1.payment_methods.create(
            {
                "type": "card",
                "card": {
                    "number": "4000000000000002",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "cvc": "123",
                },
            }
        )
        return str(method.id)

    def test_stripe_sees_the_card_on_the_customer_until_it_is_detached(
        self, gateway: PaymentGateway
    ) -> None:
        customer = self.customer(gateway)
        card = asyncio.run(gateway.attach_payment_method("pm_card_visa", customer))
        seen = self.stripe_js.v1.payment_methods.retrieve(card.payment_method_id)
        assert seen.customer == customer
        asyncio.run(gateway.detach_payment_method(card.payment_method_id))
        seen = self.stripe_js.v1.payment_methods.retrieve(card.payment_method_id)
        assert seen.customer is None

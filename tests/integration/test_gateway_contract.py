"""One contract for the payment gateway port, run against every adapter of it."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from urllib.request import Request, urlopen
from uuid import UUID, uuid4

import pytest
import stripe

from adapters.simulated_gateway import SimulatedGateway
from adapters.stripe_gateway import StripeGateway
from application.ports import (
    ChargeRequest,
    PaymentGateway,
    PaymentMethodUnusable,
    RefundRequest,
)

TEST_KEY = "sk_test_contract_0123456789"


class GatewayContract:
    """What the application relies on, whichever adapter answers."""

    visa = "pm_card_visa"
    declined_card = "pm_card_chargeDeclined"

    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        raise NotImplementedError

    @pytest.fixture
    def card_needing_3ds(self) -> str:
        raise NotImplementedError

    def charge(
        self, gateway: PaymentGateway, method: str | None = None, amount: int = 1000
    ) -> tuple[UUID, ChargeRequest]:
        payment_id = uuid4()
        customer = asyncio.run(gateway.create_customer("user-1", f"customer-{uuid4()}"))
        request = ChargeRequest(
            payment_id=payment_id,
            user_id="user-1",
            amount=amount,
            currency="usd",
            payment_method_id=method or self.visa,
            course_id="course-1",
            metadata={},
            idempotency_key=f"payment-{payment_id}",
            customer_id=customer,
        )
        return payment_id, request

    def test_a_customer_is_created_for_a_user(self, gateway: PaymentGateway) -> None:
        assert asyncio.run(gateway.create_customer("user-1", f"customer-{uuid4()}")).startswith(
            "cus_"
        )

    def test_a_good_card_is_charged_at_once(self, gateway: PaymentGateway) -> None:
        _, request = self.charge(gateway)
        outcome = asyncio.run(gateway.charge(request))
        assert outcome.status == "succeeded"
        assert outcome.intent_id and outcome.intent_id.startswith("pi_")
        assert outcome.decline is None
        assert asyncio.run(gateway.client_secret(outcome.intent_id)) == outcome.client_secret
        assert asyncio.run(gateway.retrieve_charge(outcome.intent_id)).status == "succeeded"

    def test_a_declined_card_fails_with_stripes_code(self, gateway: PaymentGateway) -> None:
        _, request = self.charge(gateway, self.declined_card)
        outcome = asyncio.run(gateway.charge(request))
        assert outcome.status == "failed"
        assert outcome.decline is not None
        assert outcome.decline.code == "card_declined"
        assert outcome.decline.message

    def test_a_card_needing_3d_secure_waits_for_the_customer(
        self, gateway: PaymentGateway, card_needing_3ds: str
    ) -> None:
        _, request = self.charge(gateway, card_needing_3ds)
        outcome = asyncio.run(gateway.charge(request))
        assert outcome.status == "requires_action"
        assert outcome.intent_id and outcome.client_secret
        assert outcome.client_secret.startswith(outcome.intent_id)
        assert asyncio.run(gateway.retrieve_charge(outcome.intent_id)).status == "requires_action"

    @pytest.fixture
    def fail_3ds(self) -> Callable[[str, str], None]:
        """The customer failing the 3-D Secure check of an intent, as Stripe.js reports it."""
        raise NotImplementedError

    def test_an_intent_whose_3d_secure_failed_is_canceled_for_good(
        self,
        gateway: PaymentGateway,
        card_needing_3ds: str,
        fail_3ds: Callable[[str, str], None],
    ) -> None:
        _, request = self.charge(gateway, card_needing_3ds)
        waiting = asyncio.run(gateway.charge(request))
        assert waiting.intent_id and waiting.client_secret
        fail_3ds(waiting.intent_id, waiting.client_secret)
        failed = asyncio.run(gateway.retrieve_charge(waiting.intent_id))
        assert failed.status == "failed"  # Stripe waits for another card on this intent

        canceled = asyncio.run(gateway.cancel_charge(waiting.intent_id))

        assert canceled.status == "canceled"
        assert asyncio.run(gateway.retrieve_charge(waiting.intent_id)).status == "canceled"
        again = asyncio.run(gateway.cancel_charge(waiting.intent_id))
        assert again.status == "canceled"  # a second cancel answers the intent as it stands

    def test_an_intent_waiting_for_the_customer_can_be_canceled(
        self, gateway: PaymentGateway, card_needing_3ds: str
    ) -> None:
        _, request = self.charge(gateway, card_needing_3ds)
        waiting = asyncio.run(gateway.charge(request))
        assert waiting.intent_id is not None
        assert asyncio.run(gateway.cancel_charge(waiting.intent_id)).status == "canceled"

    def test_a_paid_intent_is_not_canceled_and_answers_paid(self, gateway: PaymentGateway) -> None:
        _, request = self.charge(gateway)
        paid = asyncio.run(gateway.charge(request))
        assert paid.intent_id is not None

        answer = asyncio.run(gateway.cancel_charge(paid.intent_id))

        assert answer.status == "succeeded"
        assert asyncio.run(gateway.retrieve_charge(paid.intent_id)).status == "succeeded"

    def test_an_unknown_payment_method_is_unusable(self, gateway: PaymentGateway) -> None:
        _, request = self.charge(gateway, "pm_does_not_exist")
        with pytest.raises(PaymentMethodUnusable):
            asyncio.run(gateway.charge(request))

    def test_partial_refunds_then_the_rest(self, gateway: PaymentGateway) -> None:
        payment_id, request = self.charge(gateway, amount=1000)
        intent_id = asyncio.run(gateway.charge(request)).intent_id
        assert intent_id is not None
        amounts = {1: 300, 2: 200, 3: 500}
        outcomes = {
            n: asyncio.run(
                gateway.refund(
                    RefundRequest(
                        payment_id=payment_id,
                        intent_id=intent_id,
                        amount=amount,
                        reason="customer changed their mind",
                        idempotency_key=f"refund-{payment_id}-{n}",
                        number=n,
                    )
                )
            )
            for n, amount in amounts.items()
        }
        assert {n: (o.status, o.amount) for n, o in outcomes.items()} == {
            n: ("succeeded", a) for n, a in amounts.items()
        }
        assert len({o.refund_id for o in outcomes.values()}) == 3
        assert asyncio.run(gateway.find_refund(intent_id, payment_id, 2)) == outcomes[2]
        assert asyncio.run(gateway.find_refund(intent_id, payment_id, 4)) is None


class TestSimulatedGateway(GatewayContract):
    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        return SimulatedGateway()

    @pytest.fixture
    def card_needing_3ds(self) -> str:
        return "pm_card_authenticationRequired"

    @pytest.fixture
    def fail_3ds(self, gateway: SimulatedGateway) -> Callable[[str, str], None]:
        return lambda intent_id, _secret: gateway.authenticate(intent_id, passed=False) and None

    def test_a_charge_is_found_by_payment_id(self, gateway: PaymentGateway) -> None:
        payment_id, request = self.charge(gateway)
        outcome = asyncio.run(gateway.charge(request))
        since = datetime.now(UTC) - timedelta(hours=1)
        assert request.customer_id is not None
        assert asyncio.run(gateway.find_charge(payment_id, request.customer_id, since)) == outcome


@pytest.mark.integration
class TestStripeGatewayOnLocalstripe(GatewayContract):
    declined_card = "pm_card_chargeCustomerFail"  # localstripe's 4000000000000341

    @pytest.fixture
    def gateway(self, localstripe_url: str) -> PaymentGateway:
        return StripeGateway(TEST_KEY, api_base=localstripe_url, max_network_retries=0)

    @pytest.fixture
    def card_needing_3ds(self, localstripe_url: str) -> str:
        """Stripe's 3-D Secure test card, made a PaymentMethod in localstripe (test setup)."""
        client = stripe.StripeClient(TEST_KEY, base_addresses={"api": localstripe_url})
        card = {"number": "4000002500003155", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
        method = client.v1.payment_methods.create({"type": "card", "card": card})
        return str(method.id)

    @pytest.fixture
    def fail_3ds(self, localstripe_url: str) -> Callable[[str, str], None]:
        """localstripe's stand-in for Stripe.js finishing 3-D Secure (a test-only route)."""

        def fail(intent_id: str, client_secret: str) -> None:
            fields = {"client_secret": client_secret, "success": "false", "key": "pk_test_c"}
            body = urlencode(fields).encode()
            url = f"{localstripe_url}/v1/payment_intents/{intent_id}/_authenticate"
            with urlopen(Request(url, data=body, method="POST"), timeout=5) as answer:
                assert answer.status == 200

        return fail

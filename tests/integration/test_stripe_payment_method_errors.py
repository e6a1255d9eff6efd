"""Stripe's errors while saving or removing a card, as its API sends them, to the port's answers."""

import asyncio

import pytest

from application.ports import GatewayUnavailable, PaymentMethodNotFound
from tests.fake_stripe import FakeStripe, Reply
from tests.integration.stripe_helpers import stripe_at

pytestmark = pytest.mark.integration
PM = "/v1/payment_methods/pm_123"
SERVER_ERROR = Reply(status=500, error={"type": "api_error", "message": "Something went wrong"})


def test_an_unknown_method_is_not_found(fake_stripe: FakeStripe) -> None:
    with pytest.raises(PaymentMethodNotFound):
        asyncio.run(stripe_at(fake_stripe.url).attach_payment_method("pm_123", "cus_1"))
    assert fake_stripe.calls("POST", f"{PM}/attach") == []


def test_no_answer_while_saving_is_unavailable(fake_stripe: FakeStripe) -> None:
    fake_stripe.reply("GET", PM, SERVER_ERROR)
    with pytest.raises(GatewayUnavailable):
        asyncio.run(stripe_at(fake_stripe.url).attach_payment_method("pm_123", "cus_1"))


def test_detaching_a_method_stripe_no_longer_attaches_is_done(fake_stripe: FakeStripe) -> None:
    not_attached = {
        "type": "invalid_request_error",
        "code": "payment_method_unexpected_state",
        "message": "The payment method you provided is not attached to a customer.",
    }
    fake_stripe.reply("POST", f"{PM}/detach", Reply(status=400, error=not_attached))
    asyncio.run(stripe_at(fake_stripe.url).detach_payment_method("pm_123"))
    asyncio.run(
        stripe_at(fake_stripe.url).detach_payment_method("pm_123")
    )  # unknown: 404, also done
    assert len(fake_stripe.calls("POST", f"{PM}/detach")) == 2


def test_no_answer_while_detaching_is_unavailable(fake_stripe: FakeStripe) -> None:
    fake_stripe.reply("POST", f"{PM}/detach", SERVER_ERROR)
    with pytest.raises(GatewayUnavailable):
        asyncio.run(stripe_at(fake_stripe.url).detach_payment_method("pm_123"))

"""The simulated gateway's ids come back as input and go to the logs: none looks like a card."""

import asyncio
import hashlib
import hmac
import uuid

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.simulated_gateway import SimulatedGateway
from adapters.simulated_ids import simulated_token
from application.ports import ChargeRequest
from domain.card_data import looks_like_card_number
from entrypoints.http.schemas import ProcessPaymentBody

# With this seed, the first card saved from `pm_card_visa` was `pm_sim_9853360603270472572a9b56`:
# a run of 19 digits passing Luhn, so a charge naming it was refused as card data.
SEED = b"seed-63"


def plain_hex(seed: bytes, *parts: str, length: int = 24) -> str:
    """What an id was drawn as before: the HMAC's first hex digits, whatever they held."""
    return hmac.new(seed, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:length]


def test_a_saved_card_whose_id_would_look_like_a_card_number_is_given_another_and_charged() -> None:
    assert looks_like_card_number(plain_hex(SEED, "pm", "pm_card_visa", "0"))
    gateway = SimulatedGateway(seed=SEED)

    card = gateway.cards.attach("pm_card_visa", "cus_sim_1")

    assert not looks_like_card_number(card.payment_method_id)
    body = {"amount": 3100, "currency": "usd", "paymentMethodId": card.payment_method_id}
    decoded = msgspec.json.decode(msgspec.json.encode(body), type=ProcessPaymentBody)
    assert decoded.payment_method_id == card.payment_method_id
    request = ChargeRequest(
        payment_id=uuid.uuid4(), user_id="u1", amount=3100, currency="usd",
        payment_method_id=card.payment_method_id, course_id=None, metadata={},
        idempotency_key="k1", customer_id="cus_sim_1",
    )  # fmt: skip
    charged = asyncio.run(gateway.charge(request))
    assert charged.status == "succeeded"
    again = SimulatedGateway(seed=SEED).cards.attach("pm_card_visa", "cus_sim_1")
    assert again.payment_method_id == card.payment_method_id  # the same seed, the same ids


def test_an_id_with_nothing_to_hide_is_drawn_as_before() -> None:
    for parts in [("pi", "payment-1"), ("cus", "customer-1"), ("re", "refund-1")]:
        assert not looks_like_card_number(plain_hex(b"simulated", *parts))
        assert simulated_token(b"simulated", *parts) == plain_hex(b"simulated", *parts)
    assert simulated_token(b"simulated", "fingerprint", "pm_card_visa", length=16) == plain_hex(
        b"simulated", "fingerprint", "pm_card_visa", length=16
    )


@given(st.binary(max_size=16), st.lists(st.text(max_size=20), min_size=1, max_size=3))
@settings(max_examples=2000)
def test_an_id_is_drawn_again_only_when_it_looked_like_a_card_number(
    seed: bytes, parts: list[str]
) -> None:
    for length in (16, 24):
        token = simulated_token(seed, *parts, length=length)
        before = plain_hex(seed, *parts, length=length)
        assert not looks_like_card_number(token)
        assert token == before or looks_like_card_number(before)
        assert len(token) == length and set(token) <= set("0123456789abcdef")
        assert token == simulated_token(seed, *parts, length=length)

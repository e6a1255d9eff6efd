"""The card-data guard sees through disguises, and leaves random keys and ids alone."""

import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.idempotency import validate_idempotency_key
from domain.card_data import (
    find_card_data,
    is_card_number,
    is_cvc_name,
    looks_like_card_number,
    passes_luhn,
)
from domain.errors import InvalidInput

CARD = "4111111111111111"


def spaced(separator: str) -> str:
    return separator.join(CARD[i : i + 4] for i in range(0, 16, 4))


@pytest.mark.parametrize(
    "separator", [".", "\u200b", "\u200d", "\u2060", "\ufeff", "\u2013", "\u2014", "\u00a0", " - "]
)
def test_a_card_number_behind_any_separator_is_seen(separator: str) -> None:
    assert looks_like_card_number(f"my card {spaced(separator)} thanks")
    assert is_card_number(f"order {spaced(separator)}")


def test_full_width_digits_are_digits() -> None:
    full_width = "".join(chr(0xFF10 + int(d)) for d in CARD)
    assert looks_like_card_number(full_width)
    assert find_card_data({"metadata": {"note": full_width}}) == "$.metadata.note"


@pytest.mark.parametrize(
    "name",
    ["cvc", "CVV", "cvv2", "cvc2", "cid", "csc", "card_cvv", "cardSecurityCode", "security code",
     "Security-Code", "card\u200bcvv", "CardCID", "card_code"],
)  # fmt: skip
def test_cvc_like_names_are_recognised(name: str) -> None:
    assert is_cvc_name(name)
    assert find_card_data({"metadata": {name: "123"}}) == f"$.metadata.{name}"


@pytest.mark.parametrize(
    "name", ["courseId", "decided", "acid", "cidr", "description", "service", "access", "note"]
)
def test_ordinary_names_are_not_cvc_names(name: str) -> None:
    assert not is_cvc_name(name)


@given(st.uuids(version=4))
@settings(max_examples=500)
def test_random_uuid_keys_are_accepted(value: uuid.UUID) -> None:
    for key in (str(value), value.hex):
        assert validate_idempotency_key(key) == key


@given(st.binary(min_size=16, max_size=64))  # secrets.token_hex(16) and longer
@settings(max_examples=500)
def test_random_hex_keys_are_accepted(raw: bytes) -> None:
    assert validate_idempotency_key(raw.hex()) == raw.hex()


@pytest.mark.parametrize("key", ["2026-12-06-000105", "order-60254086-1011-2"])
def test_a_key_of_numbers_joined_by_dashes_can_be_a_card_number(key: str) -> None:
    """The README's examples: 14 and 13 digits, each run passing Luhn."""
    with pytest.raises(InvalidInput, match="card data is not accepted"):
        validate_idempotency_key(key)


@pytest.mark.parametrize("key", ["2026-12-06-000106", "order-r60254086-n1011-2"])
def test_the_same_numbers_failing_luhn_or_parted_by_letters_are_a_key(key: str) -> None:
    assert validate_idempotency_key(key) == key


ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@given(st.text(alphabet=ALPHANUMERIC, min_size=14, max_size=24).filter(lambda s: not s.isdigit()))
@settings(max_examples=300)
def test_stripe_like_ids_are_not_card_numbers(suffix: str) -> None:
    for prefix in ("pi_", "pm_", "cus_", "re_", "evt_"):
        assert not is_card_number(prefix + suffix)


@pytest.mark.parametrize("separator", ["", " ", "-", "_", "\t", "\n", "...", "-_-", " \t "])
def test_a_card_number_in_plain_ascii_is_seen_behind_up_to_three_separators(
    separator: str,
) -> None:
    assert looks_like_card_number(f"ref 7 paid with {spaced(separator)} on 2026-01-02")
    assert is_card_number(f"key {spaced(separator)}")


def test_four_separators_in_a_row_part_two_numbers() -> None:
    assert not looks_like_card_number(spaced("...."))
    assert not looks_like_card_number(spaced(" -_ "))


def test_look_alike_digits_of_other_scripts_are_digits() -> None:
    bold = "".join(chr(0x1D7CE + int(d)) for d in CARD)  # mathematical bold digits
    superscript = "".join("⁰¹²³⁴⁵⁶⁷⁸⁹"[int(d)] for d in CARD)
    for text in (bold, superscript, "⁴" + CARD[1:]):
        assert looks_like_card_number(f"note: {text}"), text


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242 123",
        "4242 4242 4242 4242 12/26",
        "4242 4242 4242 4242 12 26 123",
        "order 1 4242424242424242",
        "4242424242424242-1",
        "378282246310005 1226",  # American Express, 15 digits
    ],
)
def test_a_card_number_written_beside_other_digits_is_seen(text: str) -> None:
    assert looks_like_card_number(text), text
    assert is_card_number(text), text


def test_digits_beside_a_number_that_fails_luhn_are_not_a_card_number() -> None:
    assert not looks_like_card_number("4242424242424241 456")
    assert not looks_like_card_number("2026 12 06 1234")


def by_the_definition(text: str) -> bool:
    """An ASCII text's card runs as the module docstring describes them, found the slow way."""
    uuid_shape = r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    without_ids = re.sub(uuid_shape, " ", text, flags=re.I)
    for run in re.finditer(r"\d(?:[\s._-]{0,3}\d)*", without_ids):
        groups = re.findall(r"\d+", run.group())
        for first in range(len(groups)):
            for last in range(first, len(groups)):
                digits = "".join(groups[first : last + 1])
                if 13 <= len(digits) <= 19 and passes_luhn(digits):
                    return True
    return False


ASCII_PIECES = st.one_of(
    st.text(alphabet="0123456789 -._\tabcdefxyz:/", max_size=12),
    st.sampled_from([CARD, spaced(" "), spaced("--"), spaced("...."), str(uuid.UUID(int=7))]),
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex),
)


@given(st.lists(ASCII_PIECES, max_size=6).map("".join))
@settings(max_examples=2000)
def test_ascii_text_is_judged_as_the_definition_says(text: str) -> None:
    assert looks_like_card_number(text) == by_the_definition(text)

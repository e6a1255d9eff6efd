import pytest

from domain.card_data import find_card_data, is_card_number, looks_like_card_number
from domain.errors import InvalidInput
from domain.metadata import validated_metadata
from domain.money import Money


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(50, "usd"), (50, "jpy"), (30, "gbp"), (99_999_999, "eur"), (1000, "KWD"), (50000, "isk")],
)
def test_money_that_stripe_accepts(amount: int, currency: str) -> None:
    money = Money.charge(amount, currency)
    assert money.amount == amount
    assert money.currency == currency.lower()


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        (49, "usd", "amount"),
        (0, "usd", "amount"),
        (-100, "usd", "amount"),
        (100_000_000, "usd", "amount"),
        (29, "gbp", "amount"),
        (1005, "kwd", "amount"),
        (50050, "isk", "amount"),  # Stripe takes ISK in whole krónur: multiples of 100
        (1000, "xyz", "currency"),
        (1000, "dollars", "currency"),
    ],
)
def test_money_that_stripe_refuses_names_the_field(amount: int, currency: str, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        Money.charge(amount, currency)
    assert error.value.field == field


def test_amounts_must_be_integers() -> None:
    with pytest.raises(InvalidInput):
        Money.charge(10.5, "usd")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Money.charge(True, "usd")


@pytest.mark.parametrize(
    "text",
    ["4242424242424242", "4000 0000 0000 0002", "card: 5555-5555-5555-4444 ok", "378282246310005"],
)
def test_card_numbers_are_recognised(text: str) -> None:
    assert looks_like_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",
        "order 2026112601",
        "123456789012",
        "42424242424242420000",
        "pm_card_visa",
        "bc0f522a-84bc-5a56-97f2-969609952209",  # a payment id, not "52284...09952209"
    ],
)
def test_other_digits_are_not_card_numbers(text: str) -> None:
    assert not looks_like_card_number(text)


def test_card_data_is_found_anywhere_in_a_body() -> None:
    assert find_card_data({"a": {"b": ["x", "4242424242424242"]}}) == "$.a.b[1]"
    assert find_card_data({"metadata": {"CVC": "123"}}) == "$.metadata.CVC"
    assert find_card_data({"amount": 4242424242424242}) == "$.amount"
    assert find_card_data({"courseId": "course-1", "metadata": {"k": "v"}}) is None


def test_metadata_limits() -> None:
    assert validated_metadata({"k": "v"}) == {"k": "v"}
    with pytest.raises(InvalidInput):
        validated_metadata({f"k{i}": "v" for i in range(51)})
    with pytest.raises(InvalidInput):
        validated_metadata({"k" * 41: "v"})
    with pytest.raises(InvalidInput):
        validated_metadata({"k": "v" * 501})
    with pytest.raises(InvalidInput):
        validated_metadata({"note": "4242424242424242"})


@pytest.mark.parametrize("key", ["4242424242424242", "4242 4242 4242 4242", "4000-0000-0000-0002"])
def test_a_key_that_is_a_card_number_is_card_data(key: str) -> None:
    assert is_card_number(key)


def test_a_random_key_with_a_luhn_run_inside_is_not_a_card_number() -> None:
    key = "bench-3ds-9a0f4242424242424242c1"  # a hex key whose digits happen to pass Luhn
    assert looks_like_card_number(key)
    assert not is_card_number(key)
    assert not is_card_number("order-1001")

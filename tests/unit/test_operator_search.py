"""The console's search box and amounts: what an operator types, and what it means."""

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from application.actors import Actor
from application.errors import Forbidden
from application.operator_search import OperatorPage, PaymentQuery, find_payments, payment_query
from domain.errors import InvalidInput
from entrypoints.console.formatting import cause_text, minor_units, money


def test_the_search_box_tells_ids_intents_and_parties_apart() -> None:
    payment = uuid4()
    assert payment_query(f" {payment} ").payment_id == payment
    assert payment_query(f" {payment} ").or_party == str(payment)
    assert payment_query("pi_3Nabc").intent_id == "pi_3Nabc"
    assert payment_query("user-123").party == "user-123"
    assert payment_query("") == PaymentQuery()


def test_a_date_range_covers_whole_utc_days() -> None:
    query = payment_query(created_from=date(2026, 1, 1), created_to=date(2026, 1, 31))
    assert query.created_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert query.created_before == datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "paid"},
        {"limit": 0},
        {"offset": -1},
        {"text": "x" * 256},
        {"created_from": date(2026, 2, 1), "created_to": date(2026, 1, 1)},
    ],
)
def test_a_bad_search_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        payment_query(**kwargs)  # type: ignore[arg-type]


def test_only_admins_search_everyone() -> None:
    class Everything:
        def search(self, query: PaymentQuery) -> OperatorPage:
            return OperatorPage(total=7)

    admin = Actor(user_id="ops", roles=frozenset({"admin"}))
    assert find_payments(admin, payment_query(), search=Everything()).total == 7
    with pytest.raises(Forbidden):
        find_payments(Actor(user_id="cust"), payment_query(), search=Everything())


def test_a_uuid_finds_its_payment_else_the_user_or_course_with_that_id() -> None:
    user, course, payment = str(uuid4()).upper(), str(uuid4()), uuid4()
    rows = {payment: ("u-1", "c-1"), uuid4(): (user, "c-2"), uuid4(): ("u-3", course)}

    class Rows:
        def search(self, query: PaymentQuery) -> OperatorPage:
            found = [
                row_id
                for row_id, (user_id, course_id) in rows.items()
                if query.payment_id in (None, row_id) and query.party in (None, user_id, course_id)
            ]
            return OperatorPage(total=len(found))

    admin = Actor(user_id="ops", roles=frozenset({"admin"}))
    for text, expected in [(str(payment), 1), (user, 1), (course, 1), (str(uuid4()), 0)]:
        assert find_payments(admin, payment_query(text), search=Rows()).total == expected, text


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [("10", "usd", 1000), ("10.00", "usd", 1000), ("0.5", "usd", 50), ("1,000", "jpy", 1000),
     ("1.250", "kwd", 1250), ("", "usd", None), ("  ", "usd", None)],
)  # fmt: skip
def test_an_operator_types_major_units(typed: str, currency: str, minor: int | None) -> None:
    assert minor_units(typed, currency) == minor


@pytest.mark.parametrize("typed", ["ten", "10.001", "-5", "0", "1.5", "NaN", "inf"])
def test_an_amount_that_is_not_exact_money_is_refused(typed: str) -> None:
    currency = "jpy" if typed == "1.5" else "usd"
    with pytest.raises(InvalidInput):
        minor_units(typed, currency)


def test_amounts_and_causes_read_as_a_person_would_say_them() -> None:
    assert money(9999, "usd") == "99.99 USD"
    assert money(500, "jpy") == "500 JPY"
    assert cause_text({"stripe_event_id": "evt_1"}) == "Stripe event evt_1"
    assert cause_text({"request_id": "r1", "user_id": "ops"}) == "request r1 by ops"
    assert cause_text({"command": "reconcile"}) == "command: reconcile"

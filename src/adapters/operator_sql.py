"""The operator search as SQL, shared by the SQLite and PostgreSQL views."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from application.operator_search import PaymentQuery

TABLE = "operator_payments"
COLUMNS = (
    "id, user_id, amount, currency, status, charge_status, refunded_amount, course_id, "
    "intent_id, created_at, updated_at"
)


def where(
    query: PaymentQuery, mark: str, moment: Callable[[datetime], Any], uuid: Callable[[Any], Any]
) -> tuple[str, list[Any]]:
    """The WHERE clause (or "") and its parameters; `mark` is the driver's placeholder."""
    terms: list[str] = []
    params: list[Any] = []
    if query.payment_id is not None:
        terms.append(f"id = {mark}")
        params.append(uuid(query.payment_id))
    if query.intent_id is not None:
        terms.append(f"intent_id = {mark}")
        params.append(query.intent_id)
    if query.party is not None:
        terms.append(f"(user_id = {mark} OR course_id = {mark})")
        params += [query.party, query.party]
    if query.status is not None:
        terms.append(f"status = {mark}")
        params.append(query.status)
    if query.created_from is not None:
        terms.append(f"created_at >= {mark}")
        params.append(moment(query.created_from))
    if query.created_before is not None:
        terms.append(f"created_at < {mark}")
        params.append(moment(query.created_before))
    return (f"WHERE {' AND '.join(terms)}" if terms else ""), params


def select_page(clause: str, mark: str) -> str:
    return (
        f"SELECT {COLUMNS} FROM {TABLE} {clause} "
        f"ORDER BY created_at DESC, id DESC LIMIT {mark} OFFSET {mark}"
    )

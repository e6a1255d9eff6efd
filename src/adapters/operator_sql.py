"""The operator search as SQL, shared by the SQLite and PostgreSQL views.

Each way of searching has an index that ends in the list's order (created_at DESC, id DESC),
so a page is a short index scan. A user-or-course search is two such scans merged (one OR
would make the planner walk the whole table in date order). Counting stops at COUNT_CAP:
past that, the console says "more than".
"""

from collections.abc import Callable
from typing import Any

from application.operator_search import OperatorPage, OperatorRow, PaymentQuery

TABLE = "operator_payments"
COLUMNS = (
    "id, user_id, amount, currency, status, charge_status, refunded_amount, course_id, "
    "intent_id, created_at, updated_at"
)
ORDER = "ORDER BY created_at DESC, id DESC"
COUNT_CAP = 10_000

Convert = Callable[[Any], Any]


def where(
    query: PaymentQuery, mark: str, moment: Convert, uuid: Convert, party: str | None = None
) -> tuple[str, list[Any]]:
    """The WHERE clause (or "") and its parameters; `mark` is the driver's placeholder.

    `party` names the one column a user-or-course search is matched on; None matches both.
    """
    terms: list[str] = []
    params: list[Any] = []

    def term(sql: str, *values: Any) -> None:
        terms.append(sql)
        params.extend(values)

    if query.payment_id is not None:
        term(f"id = {mark}", uuid(query.payment_id))
    if query.intent_id is not None:
        term(f"intent_id = {mark}", query.intent_id)
    if query.party is not None and party is not None:
        term(f"{party} = {mark}", query.party)
    elif query.party is not None:
        term(f"(user_id = {mark} OR course_id = {mark})", query.party, query.party)
    if query.status is not None:
        term(f"status = {mark}", query.status)
    if query.created_from is not None:
        term(f"created_at >= {mark}", moment(query.created_from))
    if query.created_before is not None:
        term(f"created_at < {mark}", moment(query.created_before))
    return (f"WHERE {' AND '.join(terms)}" if terms else ""), params


def page_sql(
    query: PaymentQuery, mark: str, moment: Convert, uuid: Convert
) -> tuple[str, list[Any]]:
    """One page, newest first."""
    window = [query.limit, query.offset]
    if query.party is None:
        clause, params = where(query, mark, moment, uuid)
        return f"SELECT {COLUMNS} FROM {TABLE} {clause} {ORDER} LIMIT {mark} OFFSET {mark}", [
            *params, *window
        ]  # fmt: skip
    branches, params = [], []
    for column in ("user_id", "course_id"):
        clause, branch_params = where(query, mark, moment, uuid, party=column)
        branches.append(f"SELECT {COLUMNS} FROM {TABLE} {clause} {ORDER} LIMIT {mark}")
        params += [*branch_params, query.limit + query.offset]
    union = " UNION ".join(f"SELECT * FROM ({b}) AS b{n}" for n, b in enumerate(branches))
    sql = f"SELECT {COLUMNS} FROM ({union}) AS found {ORDER} LIMIT {mark} OFFSET {mark}"
    return sql, [*params, *window]


def count_sql(
    query: PaymentQuery, mark: str, moment: Convert, uuid: Convert
) -> tuple[str, list[Any]]:
    """How many match, counted up to COUNT_CAP + 1."""
    clause, params = where(query, mark, moment, uuid)
    sql = f"SELECT count(*) AS total FROM (SELECT 1 FROM {TABLE} {clause} LIMIT {mark}) AS capped"
    return sql, [*params, COUNT_CAP + 1]


def found(counted: int, rows: list[OperatorRow]) -> OperatorPage:
    return OperatorPage(items=rows, total=min(counted, COUNT_CAP), more=counted > COUNT_CAP)

"""Rows of the PostgreSQL read models (history, operator): read by id, upserted by batch.

Both tables keep one row per payment, keyed by `id`, with the row dataclass's fields as
columns; `currency` is char(3), read back padded.
"""

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from uuid import UUID

from psycopg import Cursor

R = TypeVar("R")


def row_of(row_type: type[R], record: Mapping[str, Any]) -> R:
    return row_type(**{**record, "currency": record["currency"].strip()})


def rows_by_id(
    c: Cursor[Any], row_type: type[R], table: str, columns: str, ids: Sequence[UUID]
) -> dict[UUID, R]:
    c.execute(f"SELECT {columns} FROM {table} WHERE id = ANY(%s)", (list(ids),))
    return {record["id"]: row_of(row_type, record) for record in c.fetchall()}


def upsert_rows(
    c: Cursor[Any],
    table: str,
    types: Mapping[str, str],
    rows: Sequence[Any],
    updated: Sequence[str],
) -> None:
    """All `rows` in one statement (unnest of one array per column); they are unique by id.

    `types` maps each column, in the table's order, to its PostgreSQL type; `updated` are the
    columns a row already there takes from the new one.
    """
    arrays = ", ".join(f"%s::{kind}[]" for kind in types.values())
    changes = ", ".join(f"{column} = excluded.{column}" for column in updated)
    c.execute(
        f"INSERT INTO {table} ({', '.join(types)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT (id) DO UPDATE SET {changes}",
        [[getattr(row, column) for row in rows] for column in types],
    )

"""PostgreSQL unreachable: event-store calls fail in seconds instead of being retried for long.

The library retries a call ten times, each waiting up to POSTGRES_CONNECT_TIMEOUT for a
connection, so an unreachable server held a request for about 50 s. Here a connection that
cannot be had within that timeout is reported at once, as an error the library does not retry,
and for `RECHECK_SECONDS` afterwards calls fail without waiting; then one waits again.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from eventsourcing.postgres import PostgresDatastore

RECHECK_SECONDS = 1.0
# libpq's own limit on establishing a connection: a server that accepts and never answers.
LIBPQ_CONNECT_TIMEOUT = 2


class DatabaseUnreachable(PersistenceError):
    """No connection to PostgreSQL could be had in time (not retried by the library)."""


def fail_fast(recorder: object, recheck: float = RECHECK_SECONDS) -> None:
    """Wrap the connection checkout of a PostgreSQL recorder (see the module doc); SQLite as is."""
    datastore = getattr(recorder, "datastore", None)
    if not isinstance(datastore, PostgresDatastore):
        return
    original: Callable[[], AbstractContextManager[Any]] = datastore.get_connection
    if isinstance(datastore.pool.kwargs, dict):
        datastore.pool.kwargs["connect_timeout"] = LIBPQ_CONNECT_TIMEOUT
    lock = threading.Lock()
    failed_at = [-float("inf")]

    @contextmanager
    def get_connection() -> Iterator[Any]:
        with lock:
            if time.monotonic() - failed_at[0] < recheck:
                raise DatabaseUnreachable("PostgreSQL did not answer a moment ago")
        connection = None
        try:
            with original() as connection:
                yield connection
        except (OperationalError, InterfaceError) as error:
            if connection is not None:
                if connection.broken:  # the server went away: drop the pool's other dead ones
                    datastore.pool.check()
                raise  # the library retries; the next checkout waits for a live connection
            with lock:
                failed_at[0] = time.monotonic()
            raise DatabaseUnreachable(f"PostgreSQL is unreachable: {error}") from error

    datastore.get_connection = get_connection  # type: ignore[method-assign]

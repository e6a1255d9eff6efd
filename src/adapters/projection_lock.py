"""One active runner per projection: a PostgreSQL advisory lock, or a file lock on SQLite.

Each projection has two locks. The runner lock is held by the active runner for as long as
it lives (on PostgreSQL, by a dedicated connection, so a dead process releases it). The
rebuild lock is taken by `replay` first: an active runner that sees it taken steps down
between batches, so the rebuild gets the runner lock without stopping the service.
"""

import fcntl
import time
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO, Protocol

import psycopg

RUNNER_CLASS = 7_303_010
REBUILD_CLASS = 7_303_011


def _polled(acquired: Callable[[], bool], deadline: float) -> bool:
    """Try until `acquired()` says yes or the deadline passes."""
    while not acquired():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class ProjectionLock(Protocol):
    """Leadership of one projection, and the right of a rebuild to take it over."""

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...

    def rebuild_pending(self) -> bool: ...

    def acquire_for_rebuild(self, timeout: float) -> bool: ...

    def release_rebuild(self) -> None: ...

    def close(self) -> None: ...


class PostgresProjectionLock:
    """Session advisory locks on a connection of its own: they die with the process."""

    def __init__(self, database_url: str, projection: str) -> None:
        self.database_url = database_url
        self.key = zlib.crc32(projection.encode()) & 0x7FFFFFFF
        self._conn: psycopg.Connection[tuple[bool]] | None = None
        self.held = False

    def _connection(self) -> "psycopg.Connection[tuple[bool]]":
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)
            self.held = False
        return self._conn

    def _ask(self, sql: str, lock_class: int | None = None) -> bool:
        params = () if lock_class is None else (lock_class, self.key)
        try:
            row = self._connection().execute(sql, params).fetchone()
        except psycopg.OperationalError:
            self.close()  # the connection died, and our locks with it
            raise
        return bool(row and row[0])

    def try_acquire(self) -> bool:
        if self.held:
            return self._ask("SELECT true")  # still connected, so still ours
        self.held = self._ask("SELECT pg_try_advisory_lock(%s, %s)", RUNNER_CLASS)
        return self.held

    def release(self) -> None:
        if self.held:
            self._ask("SELECT pg_advisory_unlock(%s, %s)", RUNNER_CLASS)
            self.held = False

    def rebuild_pending(self) -> bool:
        free = self._ask("SELECT pg_try_advisory_lock_shared(%s, %s)", REBUILD_CLASS)
        if free:
            self._ask("SELECT pg_advisory_unlock_shared(%s, %s)", REBUILD_CLASS)
        return not free

    def acquire_for_rebuild(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        rebuild = partial(self._ask, "SELECT pg_try_advisory_lock(%s, %s)", REBUILD_CLASS)
        if not _polled(rebuild, deadline):
            return False
        if not _polled(self.try_acquire, deadline):
            self.release_rebuild()
            return False
        return True

    def release_rebuild(self) -> None:
        self.release()
        self._ask("SELECT pg_advisory_unlock(%s, %s)", REBUILD_CLASS)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self.held = False


class FileProjectionLock:
    """flock() on files beside the embedded database: released when the process dies."""

    def __init__(self, directory: Path, projection: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.paths = (directory / f"{projection}.lock", directory / f"{projection}.rebuild.lock")
        self._runner: IO[bytes] | None = None
        self._rebuild: IO[bytes] | None = None

    @staticmethod
    def _take(path: Path, mode: int) -> IO[bytes] | None:
        handle = path.open("ab")
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return handle

    def try_acquire(self) -> bool:
        if self._runner is None:
            self._runner = self._take(self.paths[0], fcntl.LOCK_EX)
        return self._runner is not None

    def release(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def rebuild_pending(self) -> bool:
        probe = self._take(self.paths[1], fcntl.LOCK_SH)
        if probe is None:
            return True
        probe.close()
        return False

    def acquire_for_rebuild(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout

        def rebuild() -> bool:
            self._rebuild = self._take(self.paths[1], fcntl.LOCK_EX)
            return self._rebuild is not None

        if not _polled(rebuild, deadline):
            return False
        if not _polled(self.try_acquire, deadline):
            self.release_rebuild()
            return False
        return True

    def release_rebuild(self) -> None:
        self.release()
        if self._rebuild is not None:
            self._rebuild.close()
            self._rebuild = None

    def close(self) -> None:
        self.release_rebuild()

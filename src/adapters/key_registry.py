"""Which encryption keys wrote events, and which were given to the processes to read with.

A key is known by its fingerprint (an HMAC of a fixed label under the key), never by itself.
The start of every command checks the configured keys against it: a key that wrote events and
is not configured would leave those events unreadable, and a key that encrypts without having
been given to the other processes first would write events they cannot read.
"""

import base64
import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresDatastore

LABEL = b"payment-service encryption key fingerprint v1"
LOCK_KEY = 7_303_000_003  # pg_advisory_xact_lock: one start's check and record at a time
TABLE = (
    "CREATE TABLE IF NOT EXISTS encryption_keys (fingerprint text PRIMARY KEY, "
    "wrote integer NOT NULL CHECK (wrote IN (0, 1)), since bigint NOT NULL)"
)


class KeysNotUsable(Exception):
    """The configured keys do not fit the keys that wrote the events; one line says why."""


def fingerprint(key: str) -> str:
    """Names a base64 key without revealing it."""
    return hmac.new(base64.b64decode(key), LABEL, hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class KnownKey:
    fingerprint: str
    wrote: bool
    since: int  # the first position it may have written (or was given to read) at


class KeyRegistry:
    """The `encryption_keys` table beside the events (PostgreSQL: made by `migrate`)."""

    def __init__(self, recorder: Any) -> None:
        self.datastore = recorder.datastore
        self.p = "%s" if isinstance(self.datastore, PostgresDatastore) else "?"
        if self.p == "?":
            with self.datastore.transaction(commit=True) as c:
                c.execute(TABLE)

    def known(self, cursor: Any = None) -> dict[str, KnownKey]:
        if cursor is None:
            with self.datastore.transaction(commit=False) as c:
                return self.known(c)
        cursor.execute("SELECT fingerprint, wrote, since FROM encryption_keys")
        return {
            r["fingerprint"]: KnownKey(r["fingerprint"], bool(r["wrote"]), int(r["since"]))
            for r in cursor.fetchall()
        }

    @contextmanager
    def locked(self) -> Iterator[Any]:
        """A transaction that processes starting together take in turn."""
        with self.datastore.transaction(commit=True) as c:
            if self.p == "%s":
                c.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            else:  # a write, however empty, takes SQLite's one write lock until commit
                c.execute("UPDATE encryption_keys SET since = since WHERE fingerprint = ''")
            yield c

    def record(self, cursor: Any, fingerprint: str, *, wrote: bool, since: int) -> None:
        """Add the key if new; a key given to read with that now writes is marked so."""
        p = self.p
        cursor.execute(
            f"INSERT INTO encryption_keys (fingerprint, wrote, since) VALUES ({p}, {p}, {p}) "
            "ON CONFLICT (fingerprint) DO NOTHING",
            (fingerprint, int(wrote), since),
        )
        if wrote:
            cursor.execute(
                f"UPDATE encryption_keys SET wrote = 1, since = {p} "
                f"WHERE fingerprint = {p} AND wrote = 0",
                (since, fingerprint),
            )


def check_keys(
    registry: KeyRegistry,
    encryption_key: str,
    decrypt_only_keys: tuple[str, ...],
    next_position: int,
) -> None:
    """Raise KeysNotUsable unless every key that wrote is configured and the encryption key
    wrote before or was given to read with first; then record what this process holds. One
    transaction, taken in turn by processes that start together."""
    with registry.locked() as c:
        known = registry.known(c)
        ring = {fingerprint(k) for k in (encryption_key, *decrypt_only_keys)}
        absent = sorted((k for k in known.values() if k.wrote and k.fingerprint not in ring),
                        key=lambda k: k.since)  # fmt: skip
        if absent:
            names = ", ".join(f"{k.fingerprint} (from position {k.since})" for k in absent)
            raise KeysNotUsable(
                f"events were written with keys that are not configured: {names}; give them in "
                "PAYMENTS_DECRYPT_ONLY_KEYS (`payment-service keys` lists fingerprints)"
            )
        mine = fingerprint(encryption_key)
        if known and mine not in known:
            raise KeysNotUsable(
                f"PAYMENTS_ENCRYPTION_KEY (fingerprint {mine}) was never given to a process to "
                "read with: first give it to every process in PAYMENTS_DECRYPT_ONLY_KEYS, then "
                "make it the encryption key"
            )
        if not known and next_position > 1:
            # The first start that keeps this record, on events already written: any key
            # configured may have written some of them.
            for key in (encryption_key, *decrypt_only_keys):
                registry.record(c, fingerprint(key), wrote=True, since=1)
            return
        registry.record(c, mine, wrote=True, since=next_position if known else 1)
        for key in decrypt_only_keys:
            registry.record(c, fingerprint(key), wrote=False, since=next_position)

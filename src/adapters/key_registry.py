"""Which encryption keys wrote events, and which were given to the processes to read with.

A key is known by its fingerprint (an HMAC of a fixed label under the key), never by itself.
The start of every command checks the configured keys against it: a key that wrote events and
is not configured would leave those events unreadable, and a key that encrypts without having
been given to the other processes first would write events they cannot read.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresDatastore

LABEL = b"payment-service encryption key fingerprint v1"
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

    def known(self) -> dict[str, KnownKey]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT fingerprint, wrote, since FROM encryption_keys")
            rows = c.fetchall()
        return {
            r["fingerprint"]: KnownKey(r["fingerprint"], bool(r["wrote"]), int(r["since"]))
            for r in rows
        }

    def record(self, fingerprint: str, *, wrote: bool, since: int) -> None:
        """Add the key if new; a key given to read with that now writes is marked so."""
        p = self.p
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO encryption_keys (fingerprint, wrote, since) VALUES ({p}, {p}, {p}) "
                "ON CONFLICT (fingerprint) DO NOTHING",
                (fingerprint, int(wrote), since),
            )
            if wrote:
                c.execute(
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
    wrote before or was given to read with first; then record what this process holds."""
    known = registry.known()
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
    if mine not in known and known:
        raise KeysNotUsable(
            f"PAYMENTS_ENCRYPTION_KEY (fingerprint {mine}) was never given to the processes to "
            "read with: first give it to every process in PAYMENTS_DECRYPT_ONLY_KEYS, then make "
            "it the encryption key"
        )
    registry.record(mine, wrote=True, since=next_position if known else 1)
    for key in decrypt_only_keys:
        registry.record(fingerprint(key), wrote=False, since=next_position)

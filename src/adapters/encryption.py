"""The events' cipher, with keys that only read for rotation, and a check at start that the
configured keys read the stored events, before any request does."""

import contextlib
import json
from typing import Any

from eventsourcing.application import Application
from eventsourcing.cipher import AESCipher
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.utils import Environment, TopicError

DECRYPT_ONLY_KEYS = "DECRYPT_ONLY_CIPHER_KEYS"


class KeyRingCipher(AESCipher):
    """AES-GCM that encrypts with the current key (CIPHER_KEY) and decrypts with it or with any
    key of DECRYPT_ONLY_CIPHER_KEYS (comma-separated): events written under an earlier key, or
    by a process already given the next one, still read. GCM's tag tells which key fits."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        others = (environment.get(DECRYPT_ONLY_KEYS) or "").split(",")
        self.readers: list[AESCipher] = [self] + [
            AESCipher(Environment(env={AESCipher.CIPHER_KEY: key.strip()}))
            for key in others
            if key.strip()
        ]

    def decrypt(self, ciphertext: bytes) -> bytes:
        *first, last = self.readers
        for reader in first:
            with contextlib.suppress(ValueError):  # the tag does not fit: another key wrote it
                return AESCipher.decrypt(reader, ciphertext)
        return AESCipher.decrypt(last, ciphertext)


def key_ring_env(encryption_key: str, decrypt_only_keys: tuple[str, ...] = ()) -> dict[str, str]:
    """The eventsourcing environment of the events' cipher."""
    env = {"CIPHER_TOPIC": KEY_RING_CIPHER, AESCipher.CIPHER_KEY: encryption_key}
    if decrypt_only_keys:
        env[DECRYPT_ONLY_KEYS] = ",".join(decrypt_only_keys)
    return env


KEY_RING_CIPHER = f"{KeyRingCipher.__module__}:{KeyRingCipher.__qualname__}"


class UnreadableEvents(Exception):
    """The stored events cannot be read with the configured encryption key (or its absence)."""


def _is_plain_json(stored: StoredEvent) -> bool:
    try:
        json.loads(stored.state)
    except ValueError:
        return False
    return True


def check_events_readable(app: Application[Any]) -> None:
    """Decode the first and the last stored event; raise one clear line if the key is wrong."""
    recorder = app.recorder
    last = recorder.max_notification_id()
    if not last:
        return
    probes = [
        *recorder.select_notifications(0, 1, inclusive_of_start=False),
        *recorder.select_notifications(last, 1),
    ]
    for stored in probes:
        try:
            app.mapper.to_domain_event(stored)
        except TopicError:
            raise UnreadableEvents(
                f"a stored event's type is unknown to this version ({stored.topic}): events "
                "were written by a newer version; run that one"
            ) from None
        except MapperDeserialisationError:
            if app.mapper.cipher is None:
                raise UnreadableEvents(
                    "the stored events are encrypted: set PAYMENTS_ENCRYPTION_KEY"
                ) from None
            if _is_plain_json(stored):
                raise UnreadableEvents(
                    "PAYMENTS_ENCRYPTION_KEY is set but the stored events are not encrypted"
                ) from None
            raise UnreadableEvents(
                "PAYMENTS_ENCRYPTION_KEY does not decrypt the stored events (wrong key; one "
                "they were written with may belong in PAYMENTS_DECRYPT_ONLY_KEYS)"
            ) from None

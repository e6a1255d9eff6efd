"""Checks at start that the configured key reads the stored events, before any request does."""

import json
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent


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
                "PAYMENTS_ENCRYPTION_KEY does not decrypt the stored events (wrong key)"
            ) from None

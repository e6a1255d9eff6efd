"""A hash chain over the event log: each link covers one stored event and the link before it.

The chain is a projection of the log's raw rows (encrypted bytes included), so editing,
removing or inserting a stored event breaks every link from that event on.
"""

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking, TrackingRecorder

GENESIS = "0" * 64
PAGE = 1000


@dataclass(frozen=True)
class Link:
    position: int
    originator_id: str
    originator_version: int
    digest: str


@dataclass(frozen=True)
class Tampering:
    """The first event whose stored bytes no longer match the chain."""

    position: int
    originator_id: str
    originator_version: int
    problem: str

    def __str__(self) -> str:
        return (
            f"event at position {self.position} (aggregate {self.originator_id}, "
            f"version {self.originator_version}) {self.problem}"
        )


def link_digest(previous: str, stored: Notification) -> str:
    head = f"{stored.id}\x1f{stored.originator_id}\x1f{stored.originator_version}\x1f"
    state: object = stored.state  # an edit in SQLite may leave text where bytes were
    body = state if isinstance(state, bytes) else str(state).encode()
    return hashlib.sha256(
        bytes.fromhex(previous) + f"{head}{stored.topic}\x1f".encode() + body
    ).hexdigest()


class HashChainView(TrackingRecorder, ABC):
    """The links, written together with the chain's tracking position."""

    @abstractmethod
    def last_link(self) -> Link | None: ...

    @abstractmethod
    def append(self, links: Sequence[Link], tracking: Tracking) -> None: ...

    @abstractmethod
    def links_after(self, position: int, limit: int) -> list[Link]: ...

    @abstractmethod
    def clear(self) -> None: ...


class HashChainFollower:
    """Extends the chain with the events written since its last link."""

    name = "audit-chain"

    def __init__(self, app: Application[Any], view: HashChainView) -> None:
        self.app = app
        self.view = view

    def position(self) -> int:
        return self.view.max_tracking_id(self.app.name) or 0

    def follow(self, notifications: Sequence[Notification]) -> None:
        if not notifications:
            return
        last = self.view.last_link()
        previous = last.digest if last else GENESIS
        links = []
        for stored in notifications:
            previous = link_digest(previous, stored)
            links.append(
                Link(stored.id, str(stored.originator_id), stored.originator_version, previous)
            )
        self.view.append(links, Tracking(self.app.name, notifications[-1].id))

    def clear(self) -> None:
        self.view.clear()


def _log(app: Application[Any]) -> Iterator[Notification]:
    start = 0
    while page := app.recorder.select_notifications(start, PAGE, inclusive_of_start=False):
        yield from page
        start = page[-1].id


def _chain(view: HashChainView) -> Iterator[Link]:
    position = 0
    while page := view.links_after(position, PAGE):
        yield from page
        position = page[-1].position


def verify_chain(app: Application[Any], view: HashChainView) -> tuple[int, Tampering | None]:
    """Recompute every link from the stored events; returns how many were checked."""
    events, checked, previous, last = _log(app), 0, GENESIS, 0
    for link in _chain(view):
        stored = next(events, None)
        if stored is None or stored.id > link.position:
            return checked, Tampering(
                link.position, link.originator_id, link.originator_version, "was removed"
            )
        if stored.id < link.position:
            return checked, Tampering(
                stored.id, str(stored.originator_id), stored.originator_version, "was inserted"
            )
        previous = link_digest(previous, stored)
        if previous != link.digest:
            problem = "no longer matches its stored bytes"
            if link.position > last + 1:  # a gap, as the log may have: or one removed with its link
                gap = (
                    f"{last + 1}"
                    if link.position == last + 2
                    else f"{last + 1}-{link.position - 1}"
                )
                problem = (
                    "no longer matches the chain: this event was changed, or what was at "
                    f"position {gap} was removed with its link (a gap in positions alone is "
                    "normal)"
                )
            return checked, Tampering(
                link.position, link.originator_id, link.originator_version, problem
            )
        checked, last = checked + 1, link.position
    return checked, None

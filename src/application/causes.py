"""Why an event happened: the request, Stripe event or command that caused a save.

The cause is ambient (a context variable) rather than a parameter of every domain method:
the event store stamps it on each event it writes, inside the same row and transaction.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass


@dataclass(frozen=True, kw_only=True)
class Cause:
    """What made a change: exactly one of a request, a Stripe event or a command."""

    request_id: str | None = None
    user_id: str | None = None
    stripe_event_id: str | None = None
    command: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


_current: ContextVar[Cause | None] = ContextVar("cause", default=None)


def current_cause() -> Cause | None:
    return _current.get()


@contextmanager
def caused_by(cause: Cause) -> Iterator[Cause]:
    """Every event saved inside this block records `cause`."""
    token = _current.set(cause)
    try:
        yield cause
    finally:
        _current.reset(token)


def api_request(request_id: str, user_id: str | None) -> Cause:
    return Cause(request_id=request_id, user_id=user_id)


def stripe_event(event_id: str) -> Cause:
    return Cause(stripe_event_id=event_id)


def command(name: str) -> Cause:
    return Cause(command=name)

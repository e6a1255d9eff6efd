"""Sending what the outbox holds: one due row, one try, its outcome recorded."""

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from application.outbound_events import Delivery, OutboxEntry
from application.outbox_ports import DeliveryFailed, EventSink, OutboundMessage, Outbox, Outcome
from application.ports import Clock
from application.retry_schedule import RetrySchedule

log = logging.getLogger(__name__)
Render = Callable[[OutboxEntry], bytes]
Observe = Callable[[str, str], None]  # (event type, outcome)


def dispatch_one(
    outbox: Outbox,
    sinks: Mapping[str, EventSink],
    *,
    render: Render,
    schedule: RetrySchedule,
    clock: Clock,
    observe: Observe = lambda _type, _outcome: None,
) -> bool:
    """Try the next due row once; False when nothing is due."""
    with outbox.claim(list(sinks), clock.now()) as claim:
        if claim is None:
            return False
        delivery = claim.delivery
        entry = delivery.entry
        attempted = clock.now()
        try:
            message = OutboundMessage(str(entry.event_id), entry.type, render(entry))
            sinks[delivery.endpoint].send(message)
        except DeliveryFailed as error:
            outcome = _failed(delivery, attempted, clock.now(), str(error), schedule)
        except Exception as error:  # a body that cannot be built holds up no other event
            log.exception("outbound event %s could not be sent", entry.event_id)
            reason = f"not sent: {type(error).__name__}"
            outcome = _failed(delivery, attempted, clock.now(), reason, schedule)
        else:
            outcome = Outcome("delivered", attempted)
        claim.settle(outcome)
    observe(entry.type, "retrying" if outcome.status == "pending" else outcome.status)
    return True


def _failed(
    delivery: Delivery, attempted: datetime, ended: datetime, error: str, schedule: RetrySchedule
) -> Outcome:
    """Tried again a backoff after this try ended, or parked once tried for long enough."""
    if schedule.gives_up(delivery.first_attempt_at or attempted, attempted):
        log.warning(
            "outbound event %s parked for %s: %s", delivery.entry.event_id, delivery.endpoint, error
        )
        return Outcome("parked", attempted, error=error)
    wait = timedelta(seconds=schedule.delay(delivery.attempts + 1))
    return Outcome("pending", attempted, ended + wait, error)

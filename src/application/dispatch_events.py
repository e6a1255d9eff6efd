"""Sending what the outbox holds: one due row, one try, its outcome recorded."""

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta

from application.outbound_events import OutboxEntry
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
        message = OutboundMessage(str(entry.event_id), entry.type, render(entry))
        attempted = clock.now()
        try:
            sinks[delivery.endpoint].send(message)
        except DeliveryFailed as error:
            first = delivery.first_attempt_at or attempted
            if schedule.gives_up(first, attempted):
                outcome = Outcome("parked", attempted, error=str(error))
                log.warning(
                    "outbound event %s parked for %s: %s", entry.event_id, delivery.endpoint, error
                )
            else:
                wait = timedelta(seconds=schedule.delay(delivery.attempts + 1))
                outcome = Outcome("pending", attempted, attempted + wait, str(error))
        else:
            outcome = Outcome("delivered", attempted)
        claim.settle(outcome)
    observe(entry.type, "retrying" if outcome.status == "pending" else outcome.status)
    return True

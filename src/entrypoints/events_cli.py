"""`payment-service events list | redeliver | move`: what was announced, and announcing it
again."""

import argparse
import json
import sys
from datetime import UTC, datetime
from uuid import UUID

from adapters.history_views import close_view
from application.outbound_events import NATS_ENDPOINT, OutboxRow
from entrypoints.audit_cli import since_date
from entrypoints.operations import Unusable, opened
from entrypoints.outbound_wiring import configured_endpoints
from entrypoints.settings import Settings


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a positive whole number")
    return int(value)


def row_json(row: OutboxRow) -> dict[str, object]:
    entry = row.entry
    return {
        "id": str(entry.event_id),
        "type": entry.type,
        "paymentId": str(entry.payment_id),
        "sequence": entry.sequence,
        "createdAt": entry.occurred_at.isoformat(),
        "endpoint": row.endpoint,
        "status": row.status,
        "attempts": row.attempts,
        "nextAttemptAt": row.next_attempt_at.isoformat() if row.status == "pending" else None,
        "lastError": row.last_error,
    }


def list_events(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings, decrypts=False) as container:
        outbox = container.outbound.outbox()
        try:
            for row in outbox.rows(parked_only=args.failed, limit=args.limit):
                print(json.dumps(row_json(row)))
        finally:
            close_view(outbox)
    return 0


def redeliver(args: argparse.Namespace, settings: Settings) -> int:
    event_id = None
    if args.id is not None:
        try:
            event_id = UUID(args.id)
        except ValueError:
            raise Unusable(f"not an event id: {args.id!r}") from None
    with opened(settings, decrypts=False) as container:
        outbox = container.outbound.outbox()
        try:
            count = outbox.redeliver(event_id=event_id, since=args.since, now=datetime.now(UTC))
        finally:
            close_view(outbox)
    if count == 0:
        print("no such event in the outbox", file=sys.stderr)
        return 1
    print(f"{count} deliveries put back to be sent now, in order per payment")
    return 0


def move(args: argparse.Namespace, settings: Settings) -> int:
    if args.old == args.new:
        raise Unusable("--from and --to name the same endpoint")
    configured = configured_endpoints(settings)
    if args.new not in configured:
        raise Unusable(
            "--to must be an endpoint configured now (PAYMENTS_EVENTS_WEBHOOK_URLS, or "
            f"{NATS_ENDPOINT} with PAYMENTS_EVENTS_NATS_URL): no dispatcher would send to another"
        )
    if args.old in configured:
        raise Unusable("--from is still configured: its dispatchers would lose these events")
    with opened(settings, decrypts=False) as container:
        outbox = container.outbound.outbox()
        try:
            done = outbox.move(args.old, args.new, datetime.now(UTC))
        finally:
            close_view(outbox)
    if done.moved == 0 and done.dropped == 0:
        print("no undelivered events for that endpoint", file=sys.stderr)
        return 1
    print(
        f"{done.moved} deliveries moved to the new endpoint, to be sent now, in order per payment"
    )
    if done.dropped:
        print(f"{done.dropped} dropped from the old endpoint: the new one has those events already")
    if done.late:
        print(
            f"{done.late} of those moved follow a later event of their payment already delivered "
            "there: the receiver gets them late (each event carries its payment's `sequence`)"
        )
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    events = commands.add_parser("events", help="outbound events: list them, send them again")
    actions = events.add_subparsers(dest="action", required=True)

    p = actions.add_parser("list", help="the newest outbound events and their delivery, JSON lines")
    p.add_argument("--failed", action="store_true", help="only those parked after 72 h of tries")
    p.add_argument("--limit", type=positive, default=100, help="at most this many (default 100)")
    p.set_defaults(run=list_events)

    p = actions.add_parser("redeliver", help="send events again (parked or delivered)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", help="this event (every endpoint)")
    which.add_argument("--since", type=since_date, help="every event from this date or time on")
    p.set_defaults(run=redeliver)

    p = actions.add_parser(
        "move", help="give an old endpoint's undelivered events to a new one (a URL changed)"
    )
    p.add_argument("--from", dest="old", required=True, help="as `events list` shows it")
    p.add_argument("--to", dest="new", required=True, help="an endpoint configured now")
    p.set_defaults(run=move)

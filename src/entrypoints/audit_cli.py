"""`payment-service audit show | export | verify`: the audit trail for an auditor."""

import argparse
import json
import sqlite3
import sys
import time
from datetime import UTC, datetime
from uuid import UUID

import psycopg
from eventsourcing.persistence import PersistenceError

from adapters.hash_chain import HashChainFollower, verify_chain
from application.actors import Actor
from application.audit import export_audit_trail, payment_audit_trail
from application.errors import NotFound
from entrypoints.audit_format import entry_json
from entrypoints.operations import Unusable, opened, unusable
from entrypoints.settings import Settings

AUDITOR = Actor(user_id="cli", roles=frozenset({"admin"}))


def show(args: argparse.Namespace, settings: Settings) -> int:
    try:
        payment_id = UUID(args.payment_id)
    except ValueError:
        raise Unusable(f"not a payment id: {args.payment_id!r}") from None
    with opened(settings) as container:
        try:
            entries = payment_audit_trail(AUDITOR, payment_id, trail=container.audit_trail())
        except NotFound as error:
            print(error, file=sys.stderr)
            return 1
        for entry in entries:
            print(json.dumps({k: v for k, v in entry_json(entry).items() if k != "position"}))
    return 0


def since_date(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("use an ISO date, e.g. 2026-01-31") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def export(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as container:
        count = 0
        for entry in export_audit_trail(container.audit_trail(), args.since):
            sys.stdout.write(json.dumps(entry_json(entry)) + "\n")
            count += 1
        print(f"exported {count} events", file=sys.stderr)
    return 0


def verify(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0: intact; 1: tampered, and only then; 2: not verified (storage failed meanwhile),
    so that a job alerting on 1 is never woken by a database restart."""
    try:
        return _verify(args, settings)
    except (PersistenceError, psycopg.Error, sqlite3.Error) as error:
        raise unusable("audit verify: not verified, the events could not be read", error) from None


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    # The chain covers the stored bytes: no key is needed, and a garbled event is a finding.
    with opened(settings, decrypts=False) as container:
        runner = container.chain_runner()
        app = container.payment_store().app
        target = app.recorder.max_notification_id() or 0
        if runner.lock is not None and runner.lock.try_acquire():
            runner.run_once()
            runner.lock.release()
        deadline = time.monotonic() + args.timeout
        while runner.position < target:  # the active worker is extending it
            if time.monotonic() > deadline:
                raise Unusable(f"{HashChainFollower.name}: the active worker did not catch up")
            time.sleep(0.1)
        checked, tampering = verify_chain(app, container.hash_chain())
        last = container.hash_chain().last_link()
    if tampering is not None:
        print(f"TAMPERED: {tampering}; {checked} events before it are intact")
        return 1
    head = f"; last link {last.digest}" if last else ""
    print(f"OK: {checked} events verified; the hash chain is intact{head}")
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    audit = commands.add_parser("audit", help="the audit trail: show, export, verify")
    actions = audit.add_subparsers(dest="action", required=True)
    p = actions.add_parser("show", help="every event of one payment, as JSON lines")
    p.add_argument("payment_id")
    p.set_defaults(run=show)
    p = actions.add_parser("export", help="every event as JSON Lines, on standard output")
    p.add_argument("--since", type=since_date, help="only events from this date or time on")
    p.set_defaults(run=export)
    p = actions.add_parser("verify", help="extend the hash chain, then check every event")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a worker")
    p.set_defaults(run=verify)

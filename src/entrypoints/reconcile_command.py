"""`payment-service reconcile`: settle what Stripe knows and we do not, and say what changed."""

import asyncio
import sys
from datetime import timedelta

from application.reconcile import reconcile
from entrypoints.operations import opened
from entrypoints.settings import Settings


def run_reconcile(settings: Settings, *, older_than: timedelta) -> int:
    if not settings.stripe_secret_key:
        print(
            "reconcile needs STRIPE_SECRET_KEY: the simulated gateway keeps its PaymentIntents "
            "in the memory of the process that served them",
            file=sys.stderr,
        )
        return 2
    with opened(settings) as container:  # the schema current, the key reading the events
        report = asyncio.run(
            reconcile(
                older_than=older_than,
                now=container.clock().now(),
                pending=container.pending_payments(),
                store=container.payment_store(),
                wallets=container.wallets(),
                gateway=container.gateway(),
            )
        )
    for s in report.settled:
        print(f"settled {s.payment_id}: {s.before} -> {s.after}")
    print(
        f"{len(report.settled)} settled, {len(report.still_open)} still waiting at Stripe, "
        f"{len(report.unanswered)} without an answer from Stripe"
    )
    for payment_id in report.unanswered:
        print(f"no answer from Stripe for {payment_id}; run reconcile again later")
    return 1 if report.unanswered else 0

"""One audit line and the metrics for each payment operation, whatever its outcome."""

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from application.errors import GatewayError, PaymentDeclined, PaymentMethodRejected
from application.process_payment import PaymentReceipt
from application.refund_payment import RefundReceipt
from entrypoints import metrics
from entrypoints.http.errors import api_error
from entrypoints.logs import ServiceId

audit = structlog.get_logger("payments.audit")


@contextmanager
def _timed(operation: str, **context: Any) -> Iterator[Callable[[], float]]:
    started = time.perf_counter()

    def elapsed() -> float:
        return time.perf_counter() - started

    try:
        yield elapsed
    except Exception as error:
        problem = api_error(error)
        # the payment's id when the service found or made it; a refund's context carries the
        # id its client sent, logged as any client's text is
        made = None if problem.payment_id is None else ServiceId(problem.payment_id)
        details = {"payment_id": made, **context}
        audit.info(
            operation,
            outcome="declined" if isinstance(error, PaymentDeclined) else "error",
            code=problem.code,
            duration_ms=round(elapsed() * 1000, 2),
            **details,
        )
        raise


async def charge(
    run: Callable[[], Awaitable[PaymentReceipt]], *, user_id: str, amount: int, currency: str
) -> PaymentReceipt:
    """Run a charge: count it by status, time it, and write its audit line."""
    context = {"user_id": user_id, "amount": amount, "currency": currency}
    try:
        with _timed("payment.process", **context) as elapsed:
            receipt = await run()
    except (PaymentDeclined, PaymentMethodRejected):
        metrics.payments_total.labels(status="failed").inc()
        raise
    finally:
        metrics.payment_processing_seconds.observe(elapsed())
    metrics.payments_total.labels(status=receipt.status).inc()
    audit.info(
        "payment.process",
        outcome=receipt.status,
        payment_id=ServiceId(receipt.payment_id),
        stripe_payment_intent_id=receipt.intent_id,
        duration_ms=round(elapsed() * 1000, 2),
        **context,
    )
    return receipt


async def refund(
    run: Callable[[], Awaitable[RefundReceipt]], *, user_id: str, payment_id: str
) -> RefundReceipt:
    """Run a refund: count it and write its audit line."""
    try:
        with _timed("payment.refund", user_id=user_id, payment_id=payment_id) as elapsed:
            receipt = await run()
    except GatewayError:
        metrics.refunds_total.labels(status="failed").inc()
        raise
    settled = receipt.status in ("refunded", "partially_refunded")
    metrics.refunds_total.labels(status="succeeded" if settled else "pending").inc()
    audit.info(
        "payment.refund",
        outcome=receipt.status,
        user_id=user_id,
        payment_id=ServiceId(receipt.payment_id),
        stripe_refund_id=receipt.refund_id,
        amount=receipt.amount,
        duration_ms=round(elapsed() * 1000, 2),
    )
    return receipt

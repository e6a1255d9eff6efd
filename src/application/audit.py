"""Reading the audit trail: what happened to a payment, when, and why."""

from collections.abc import Iterator
from datetime import datetime
from uuid import UUID

from application.actors import Actor
from application.errors import Forbidden, NotFound
from application.ports import AuditEntry, AuditTrail


def payment_audit_trail(actor: Actor, payment_id: UUID, *, trail: AuditTrail) -> list[AuditEntry]:
    """Every event of one payment in order; audit trails are for admins only."""
    if not actor.is_admin:
        raise Forbidden("audit trails need the admin role")
    entries = trail.events_of(payment_id)
    if not entries or entries[0].aggregate_type != "Payment":
        raise NotFound("payment not found")
    return entries


def export_audit_trail(trail: AuditTrail, since: datetime | None = None) -> Iterator[AuditEntry]:
    """Every event of every aggregate in log order, optionally from a moment on."""
    return trail.all_events(since)

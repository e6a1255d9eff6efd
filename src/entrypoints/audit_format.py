"""One JSON shape for audit entries, over HTTP and on the command line (camelCase keys)."""

from typing import Any

from application.ports import AuditEntry


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def camel_keys(values: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys only: metadata keys inside are the customer's own."""
    return {camel(k): v for k, v in values.items()}


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "position": entry.position,
        "aggregateId": str(entry.aggregate_id),
        "aggregateType": entry.aggregate_type,
        "version": entry.version,
        "type": entry.type,
        "occurredAt": entry.occurred_at.isoformat(),
        "cause": camel_keys(entry.cause) if entry.cause else None,
        "data": camel_keys(entry.data),
    }

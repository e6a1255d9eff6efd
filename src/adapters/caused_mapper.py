"""A mapper that stores each event's cause inside its (encrypted) payload."""

from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent

from application.causes import current_cause

CAUSE_KEY = "__cause__"


class CausedMapper(Mapper[UUID]):
    """Adds the current cause to what is written; domain events never see it."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        cause = current_cause()
        if cause is None:
            return super().to_stored_event(domain_event)
        stamped = object.__new__(type(domain_event))
        object.__setattr__(stamped, "__dict__", {**vars(domain_event), CAUSE_KEY: cause.as_dict()})
        return super().to_stored_event(stamped)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self.decode(stored_event)[0]

    def decode(
        self, stored_event: StoredEvent
    ) -> tuple[DomainEventProtocol[UUID], dict[str, str] | None]:
        """The domain event and the cause recorded with it (None for events without one)."""
        event = super().to_domain_event(stored_event)
        cause = vars(event).pop(CAUSE_KEY, None)
        return event, cause

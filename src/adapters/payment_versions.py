"""A payment as it stood right after one of its events: what that event announces."""

from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from domain.payment import Payment


class EventStorePaymentVersions:
    def __init__(self, app: Application[Any]) -> None:
        self.app = app

    def payment_at(self, payment_id: UUID, version: int) -> Payment:
        payment: object = self.app.repository.get(payment_id, version=version)
        if not isinstance(payment, Payment):
            raise TypeError(f"{payment_id} is not a payment")
        return payment

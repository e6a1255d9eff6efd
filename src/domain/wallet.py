"""The Wallet aggregate: what Stripe knows of one user (their Customer), kept as events."""

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

WALLET_NAMESPACE = UUID("2b0c4f7e-8a51-4c36-9d1e-5f3a7b9c0e42")


def wallet_id_for(user_id: str) -> UUID:
    """The one wallet a user can ever have."""
    return uuid5(WALLET_NAMESPACE, user_id)


class Wallet(Aggregate):
    """One user's Stripe Customer; the first Customer recorded is the user's for good."""

    class Opened(Aggregate.Created):
        user_id: str

    class CustomerCreated(Aggregate.Event):
        customer_id: str

    @staticmethod
    def create_id(user_id: str) -> UUID:
        return wallet_id_for(user_id)

    @event(Opened)
    def __init__(self, *, user_id: str) -> None:
        self.user_id = user_id
        self.customer_id: str | None = None

    def record_customer(self, customer_id: str) -> None:
        if self.customer_id is None:
            self._customer_created(customer_id=customer_id)

    @event(CustomerCreated)
    def _customer_created(self, customer_id: str) -> None:
        self.customer_id = customer_id

"""Which user a Stripe Customer belongs to, so that Stripe's events find the user's wallet."""

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

CUSTOMER_LINK_NAMESPACE = UUID("6f1d2a9e-3c47-4b8e-a5d0-7e9b1c2f4a63")


def customer_link_id(customer_id: str) -> UUID:
    return uuid5(CUSTOMER_LINK_NAMESPACE, customer_id)


class CustomerLink(Aggregate):
    """Written with the wallet's CustomerCreated, in the same transaction; never changes."""

    class Linked(Aggregate.Created):
        customer_id: str
        user_id: str

    @staticmethod
    def create_id(customer_id: str, user_id: str) -> UUID:
        return customer_link_id(customer_id)

    @event(Linked)
    def __init__(self, *, customer_id: str, user_id: str) -> None:
        self.customer_id = customer_id
        self.user_id = user_id

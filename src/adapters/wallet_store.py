"""Wallets in the payments event store, so a wallet and a payment share one log."""

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, PersistenceError

from adapters.eventstore import PaymentsApplication
from application.errors import ConcurrencyConflict, StorageError
from domain.customer_link import CustomerLink, customer_link_id
from domain.wallet import Wallet, wallet_id_for


class EventSourcedWalletStore:
    """WalletStore on the payments application; library errors become ours."""

    def __init__(self, app: PaymentsApplication) -> None:
        self.app = app

    def find(self, user_id: str) -> Wallet | None:
        try:
            wallet: Wallet = self.app.repository.get(wallet_id_for(user_id))
        except AggregateNotFoundError:
            return None
        except PersistenceError as error:
            raise StorageError("the event store is unavailable") from error
        return wallet

    def find_by_customer(self, customer_id: str) -> Wallet | None:
        try:
            link: CustomerLink = self.app.repository.get(customer_link_id(customer_id))
        except AggregateNotFoundError:
            return None
        except PersistenceError as error:
            raise StorageError("the event store is unavailable") from error
        return self.find(link.user_id)

    def save(self, wallet: Wallet, *others: Aggregate) -> None:
        try:
            self.app.save(wallet, *others)
        except IntegrityError:
            raise ConcurrencyConflict("the wallet was changed by another request") from None
        except PersistenceError as error:
            raise StorageError("the event store is unavailable") from error

"""The event store: payments persisted through the eventsourcing library."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Mapper, PersistenceError
from eventsourcing.utils import Environment, EnvType
from psycopg.conninfo import conninfo_to_dict

from adapters.caused_mapper import CausedMapper
from adapters.database_fail_fast import fail_fast
from adapters.encryption import key_ring_env
from application.errors import ConcurrencyConflict, StorageError
from domain.payment import Payment
from domain.stripe_events import (
    PaymentIntentLink,
    StripeEventReceipt,
    intent_link_id_for,
    receipt_id_for,
)

ONE_TRIP_RECORDER = "adapters.event_recorder:OneTripApplicationRecorder"
# The connections a process's event store keeps open, and how many it opens at most: how many
# event-store steps can run at once in worker threads. Charges and webhooks on PostgreSQL await
# the event store on the event loop instead (adapters/awaited_event_store.py), over a pool of
# their own, so these threads serve the other routes.
POOL_SIZE = 2
DATABASE_THREADS = 20
A = TypeVar("A", bound=Aggregate)


def persistence_env(
    database_url: str | None,
    sqlite_file: Path,
    *,
    encryption_key: str | None = None,
    decrypt_only_keys: tuple[str, ...] = (),
    pool_size: int = POOL_SIZE,
    max_connections: int | None = None,
    create_tables: bool = True,
) -> dict[str, str]:
    """The eventsourcing environment for PostgreSQL when a URL is given, else SQLite.

    The pool keeps `pool_size` connections and grows to `max_connections` (twice as many when
    not given). `create_tables=False` leaves the library's tables to `payment-service migrate`:
    processes that start together must not race to create them.
    """
    env: dict[str, str] = {}
    if database_url:
        parts = conninfo_to_dict(database_url)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=str(parts.get("dbname", "postgres")),
            POSTGRES_HOST=str(parts.get("host", "127.0.0.1")),
            POSTGRES_PORT=str(parts.get("port", "5432")),
            POSTGRES_USER=str(parts.get("user", "postgres")),
            POSTGRES_PASSWORD=str(parts.get("password", "")),
            POSTGRES_POOL_SIZE=str(pool_size),
            POSTGRES_MAX_OVERFLOW=str((max_connections or 2 * pool_size) - pool_size),
            # How long a call waits for a connection; see adapters/database_fail_fast.py.
            POSTGRES_CONNECT_TIMEOUT="2",
            POSTGRES_LOCK_TIMEOUT="5",
            CREATE_TABLE="y" if create_tables else "n",
        )
    else:
        private_file(sqlite_file)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(sqlite_file),
            SQLITE_LOCK_TIMEOUT="10",
        )
    if encryption_key:
        env.update(key_ring_env(encryption_key, decrypt_only_keys))
    return env


def private_file(path: Path) -> None:
    """The data dir 0700 and the database file 0600 (SQLite's WAL files follow the file)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    path.chmod(0o600)


class PaymentsApplication(Application[UUID]):
    """The write side: every payment's events in one notification log."""

    name = "payments"

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the environment the service gives (from its settings): eventsourcing would also
        read the process's, where a stray PAYMENTS_CIPHER_KEY would override the configured key."""
        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> Mapper[UUID]:
        transcoder = self.construct_transcoder()
        return self.factory.mapper(transcoder=transcoder, mapper_class=CausedMapper)

    @property
    def caused_mapper(self) -> CausedMapper:
        assert isinstance(self.mapper, CausedMapper)
        return self.mapper


class EventSourcedPaymentStore:
    """PaymentStore on an eventsourcing application; library errors become ours."""

    def __init__(self, app: PaymentsApplication) -> None:
        self.app = app

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "EventSourcedPaymentStore":
        env = dict(env)
        if env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
            env.setdefault("APPLICATION_RECORDER_TOPIC", ONE_TRIP_RECORDER)
        app = PaymentsApplication(env=env)
        fail_fast(app.recorder)
        return cls(app)

    def find(self, payment_id: UUID) -> Payment | None:
        return self._get(payment_id, Payment)

    def find_receipt(self, event_id: str) -> StripeEventReceipt | None:
        return self._get(receipt_id_for(event_id), StripeEventReceipt)

    def payment_for_intent(self, intent_id: str) -> UUID | None:
        link = self._get(intent_link_id_for(intent_id), PaymentIntentLink)
        return link.payment_id if link else None

    def _get(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        try:
            aggregate: object = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        except PersistenceError as error:
            raise StorageError("the event store is unavailable") from error
        return aggregate if isinstance(aggregate, kind) else None

    def save(self, *aggregates: Aggregate) -> int | None:
        try:
            recordings = self.app.save(*aggregates)
        except IntegrityError:
            raise ConcurrencyConflict("the payment was changed by another request") from None
        except PersistenceError as error:
            raise StorageError("the event store is unavailable") from error
        return recordings[-1].notification.id if recordings else None

    def events_of(self, payment_id: UUID) -> list[Any]:
        return list(self.app.events.get(payment_id))

    def close(self) -> None:
        self.app.close()

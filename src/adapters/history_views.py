"""Builds the read-model views, the audit hash chain and their locks for the configured database."""

from collections.abc import Mapping
from pathlib import Path

from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.utils import Environment

from adapters.database_fail_fast import fail_fast
from adapters.hash_chain import HashChainView
from adapters.hash_chain_postgres import PostgresHashChain
from adapters.hash_chain_sqlite import SQLiteHashChain
from adapters.history_postgres import PostgresHistoryView
from adapters.history_sqlite import SQLiteHistoryView
from adapters.operator_postgres import PostgresOperatorView
from adapters.operator_sqlite import SQLiteOperatorView
from adapters.outbox_postgres import PostgresOutbox
from adapters.outbox_sqlite import SQLiteOutbox
from adapters.outbox_view import OutboxView
from adapters.projection_lock import FileProjectionLock, PostgresProjectionLock, ProjectionLock
from application.history import HistoryView
from application.operator_projection import OperatorView


def _on_postgres(env: Mapping[str, str]) -> bool:
    return env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres"


def _view(name: str, env: Mapping[str, str], view_class: type[TrackingRecorder]) -> object:
    factory = InfrastructureFactory.construct(Environment(name, {**env, "CIPHER_TOPIC": ""}))
    view = factory.tracking_recorder(view_class)
    fail_fast(view)
    return view


def history_view(env: Mapping[str, str]) -> HistoryView:
    """A view on the same database kind as `env` (eventsourcing's persistence settings)."""
    view_class = PostgresHistoryView if _on_postgres(env) else SQLiteHistoryView
    view = _view("history", env, view_class)
    assert isinstance(view, HistoryView)
    return view


def operator_view(env: Mapping[str, str]) -> OperatorView:
    view_class = PostgresOperatorView if _on_postgres(env) else SQLiteOperatorView
    view = _view("operator", env, view_class)
    assert isinstance(view, OperatorView)
    return view


def hash_chain_view(env: Mapping[str, str]) -> HashChainView:
    view_class = PostgresHashChain if _on_postgres(env) else SQLiteHashChain
    view = _view("auditchain", env, view_class)
    assert isinstance(view, HashChainView)
    return view


def outbox_view(env: Mapping[str, str]) -> OutboxView:
    view_class = PostgresOutbox if _on_postgres(env) else SQLiteOutbox
    view = _view("outbox", env, view_class)
    assert isinstance(view, OutboxView)
    return view


def projection_lock(database_url: str | None, data_dir: Path, name: str) -> ProjectionLock:
    """An advisory lock on PostgreSQL; a file lock beside the embedded database otherwise."""
    if database_url:
        return PostgresProjectionLock(database_url, name)
    return FileProjectionLock(data_dir / "locks", name)


def close_view(view: object) -> None:
    """Give back a view's database connections (its recorder's pool)."""
    datastore = getattr(view, "datastore", None)
    if datastore is not None:
        datastore.close()

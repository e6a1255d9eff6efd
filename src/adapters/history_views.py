"""Builds the history view for the configured database."""

from collections.abc import Mapping

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from adapters.history_postgres import PostgresHistoryView
from adapters.history_sqlite import SQLiteHistoryView
from application.history import HistoryView


def history_view(env: Mapping[str, str]) -> HistoryView:
    """A view on the same database kind as `env` (eventsourcing's persistence settings)."""
    factory = InfrastructureFactory.construct(Environment("history", {**env, "CIPHER_TOPIC": ""}))
    view_class: type[HistoryView] = SQLiteHistoryView
    if env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
        view_class = PostgresHistoryView
    view = factory.tracking_recorder(view_class)
    assert isinstance(view, HistoryView)
    return view

"""The database schema, made once by `payment-service migrate` before any process serves."""

from collections.abc import Callable, Sequence

from adapters.history_views import close_view
from adapters.migrations import Migration, apply_migrations, one_migrator, shipped_migrations
from adapters.schema_version import check_schema
from entrypoints.container import build_container
from entrypoints.settings import Settings


def migrate_schema(
    settings: Settings,
    migrations: Sequence[Migration] | None = None,
    waiting: Callable[[], None] = lambda: None,
) -> list[str]:
    """Apply the shipped migrations and make the event store's and projections' own tables;
    `waiting` is called if another `migrate` runs first."""
    if settings.database_url is None:
        return []
    with one_migrator(settings.database_url, waiting):
        applied = apply_migrations(settings.database_url, migrations or shipped_migrations())
        container = build_container(settings, create_tables=True)
        container.payment_store().close()
        close_view(container.history())
        close_view(container.hash_chain())
        close_view(container.operator_view())
        close_view(container.outbound.outbox())
    return applied


def require_current_schema(settings: Settings) -> None:
    """On PostgreSQL, stop unless `migrate` has applied every migration this version ships.

    Raises MigrationsMissing or SchemaNotReady, whose messages are one line for the operator.
    """
    if settings.database_url is not None:
        check_schema(settings.database_url, shipped_migrations())

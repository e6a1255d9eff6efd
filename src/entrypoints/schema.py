"""The database schema, made once by `payment-service migrate` before any process serves."""

from pathlib import Path

from adapters.history_views import close_view
from adapters.migrations import apply_migrations
from entrypoints.container import build_container
from entrypoints.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations" / "postgres"


def migrate_schema(settings: Settings, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply migrations/ and make the event store's and projections' own tables."""
    if settings.database_url is None:
        return []
    applied = apply_migrations(settings.database_url, directory)
    container = build_container(settings, create_tables=True)
    container.payment_store().close()
    close_view(container.history())
    close_view(container.hash_chain())
    close_view(container.outbound.outbox())
    return applied

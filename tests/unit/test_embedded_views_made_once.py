"""`serve` makes the embedded read models' tables before its workers start.

Several workers starting on a fresh data dir used to make them at the same moment, and one
could fail recording the library's table-creation marker (one start in six, measured).
"""

import sqlite3
from pathlib import Path

from entrypoints import operations
from entrypoints.container import build_container
from entrypoints.settings import Settings


def tracked_files(data_dir: Path) -> dict[str, list[str]]:
    """Each SQLite file holding a tracking table, with the applications it tracks."""
    found = {}
    for path in sorted(data_dir.rglob("*.db")):
        with sqlite3.connect(path) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "tracking" in tables:
                rows = conn.execute("SELECT application_name FROM tracking").fetchall()
                found[path.name] = [r[0] for r in rows]
    return found


def test_the_read_models_tables_are_made_in_the_master(tmp_path: Path) -> None:
    settings = Settings.from_env({"PAYMENTS_DATA_DIR": str(tmp_path / "var")})
    container = build_container(settings)
    assert tracked_files(tmp_path) == {}
    operations.make_embedded_views(container)
    container.payment_store().close()
    made = tracked_files(tmp_path)
    assert len(made) >= 3, made  # history, audit chain, operator view (and the outbox)
    assert all(apps == ["__migration__"] for apps in made.values()), made

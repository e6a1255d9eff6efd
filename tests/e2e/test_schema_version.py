"""`migrate` applies what this version ships; nothing serves on a schema older than that."""

import select
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from litestar.testing import TestClient

from adapters.migrations import RUN_KEY, shipped_migrations
from adapters.schema_version import SchemaNotReady, check_schema
from entrypoints import cli
from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.cli_process import cli_in_process, run_cli, start_cli
from tests.conftest import ROOT, with_database

pytestmark = pytest.mark.integration

SHIPPED = sorted(path.name for path in (ROOT / "migrations" / "postgres").glob("*.sql"))
NEWEST = SHIPPED[-1].split("_")[0]
BEFORE_NEWEST = SHIPPED[-2].split("_")[0]


@pytest.fixture
def new_database(postgres_server_url: str) -> Iterator[str]:
    """An empty database that `migrate` never saw."""
    name = f"payments_new_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(postgres_server_url, name)
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def recorded(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def forget_newest_migration(url: str) -> None:
    """What a database migrated by the previous version looks like to this one."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (SHIPPED[-1],))


def test_the_package_ships_every_migration_of_the_source_tree() -> None:
    assert [m.name for m in shipped_migrations()] == SHIPPED
    assert len(SHIPPED) >= 2


def test_migrate_applies_every_shipped_migration_once(
    new_database: str,
    base_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    cli_in_process(monkeypatch, {**base_env, "PAYMENTS_DATABASE_URL": new_database}, tmp_path)

    assert cli.main(["migrate"]) == 0
    first = capsys.readouterr().out
    assert cli.main(["migrate"]) == 0
    second = capsys.readouterr().out

    assert (
        first == f"applied {len(SHIPPED)} migration(s): {', '.join(SHIPPED)}; schema at {NEWEST}\n"
    )
    assert (
        second == f"nothing to apply: all {len(SHIPPED)} migration(s) up to {NEWEST} were applied\n"
    )
    assert recorded(new_database) == SHIPPED


def test_migrate_started_by_several_instances_at_once_succeeds_in_each(
    postgres_server_url: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    """A first deploy whose instances each run `migrate` before they serve, all at once."""
    for _ in range(3):  # the library's own tables collided in most tries, before
        name = f"payments_race_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(postgres_server_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        env = {**base_env, "PAYMENTS_DATABASE_URL": with_database(postgres_server_url, name)}
        try:
            runs = [start_cli(env, "migrate", cwd=tmp_path) for _ in range(4)]
            said = [run.communicate(timeout=120)[0] for run in runs]
            assert [run.returncode for run in runs] == [0, 0, 0, 0], said
            last = [out.splitlines()[-1] for out in said]  # after "waiting for another ..."
            assert sum(line.startswith("applied ") for line in last) == 1, said
            assert sum(line.startswith("nothing to apply") for line in last) == 3, said
            assert recorded(env["PAYMENTS_DATABASE_URL"]) == SHIPPED
        finally:
            with psycopg.connect(postgres_server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_says_it_waits_while_another_migrate_runs(
    new_database: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**base_env, "PAYMENTS_DATABASE_URL": new_database}
    with psycopg.connect(new_database, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (RUN_KEY,))  # another migrate, mid-run
        waiting = start_cli(env, "migrate", cwd=tmp_path)
        assert waiting.stdout is not None
        said_something, _, _ = select.select([waiting.stdout], [], [], 60)
        assert said_something, "migrate waited without a word"
        first = waiting.stdout.readline()
        assert first == "migrate: waiting for another migrate of this database to finish\n"
        assert waiting.poll() is None  # still waiting, nothing applied
        assert recorded_or_none(new_database) is None
    said = waiting.communicate(timeout=120)[0]  # the other ended: its session, and lock, gone

    assert waiting.returncode == 0, said
    assert said.startswith(f"applied {len(SHIPPED)} migration(s)")
    assert recorded(new_database) == SHIPPED


def recorded_or_none(url: str) -> list[str] | None:
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    return recorded(url) if exists and exists[0] else None


@pytest.mark.parametrize("command", ["serve", "project"])
def test_a_database_never_migrated_stops_the_service_with_one_line(
    command: str, new_database: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    result = run_cli({**base_env, "PAYMENTS_DATABASE_URL": new_database}, command, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"configuration error: database schema was never migrated, this version needs {NEWEST}: "
        "run payment-service migrate"
    ]


def test_a_schema_behind_this_version_stops_serve_with_one_line(
    postgres_url: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    forget_newest_migration(postgres_url)

    result = run_cli({**base_env, "PAYMENTS_DATABASE_URL": postgres_url}, "serve", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"configuration error: database schema is at {BEFORE_NEWEST}, this version needs "
        f"{NEWEST}: run payment-service migrate"
    ]


def test_a_schema_migrated_by_a_newer_version_is_accepted(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version) VALUES ('9999_from_a_newer.sql')")

    check_schema(postgres_url, shipped_migrations())  # raises when the schema is not ready


def test_a_schema_missing_an_older_migration_names_it(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (SHIPPED[0],))

    with pytest.raises(SchemaNotReady) as raised:
        check_schema(postgres_url, shipped_migrations())

    assert str(raised.value) == (
        f"database schema is at {NEWEST} but lacks {SHIPPED[0]}: run payment-service migrate"
    )


def test_readiness_is_down_naming_the_schema_when_it_falls_behind(
    base_env: dict[str, str],
    postgres_url: str,
    make_container: Callable[[dict[str, str]], Container],
) -> None:
    env = {**base_env, "PAYMENTS_DATABASE_URL": postgres_url}
    with TestClient(create_app(make_container(env), run_projections=False)) as client:
        before = client.get("/health/ready")
        forget_newest_migration(postgres_url)
        after = client.get("/health/ready")

    assert before.status_code == 200
    assert before.json()["components"]["schema"] == {"status": "ok"}
    assert after.status_code == 503
    assert after.json()["status"] == "down"
    assert after.json()["components"]["schema"] == {
        "status": "down",
        "error": f"database schema is at {BEFORE_NEWEST}, this version needs {NEWEST}: "
        "run payment-service migrate",
    }


def test_migrate_without_migration_files_exits_2_naming_where_it_looked(
    new_database: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "shadow" / "migrations"  # a `migrations` package without its SQL
    empty.mkdir(parents=True)
    (empty / "__init__.py").touch()
    env = {**base_env, "PAYMENTS_DATABASE_URL": new_database, "PYTHONPATH": str(empty.parent)}

    result = run_cli(env, "migrate", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"migrate: no migration files (*.sql) in {empty / 'postgres'}; "
        "this installation lacks its SQL: reinstall payment-service"
    ]
    assert recorded_or_none(new_database) is None


def test_migrate_without_postgresql_says_so_in_one_line(
    base_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    nobody = "postgresql://postgres@127.0.0.1:1/payments?connect_timeout=2"
    cli_in_process(monkeypatch, {**base_env, "PAYMENTS_DATABASE_URL": nobody}, tmp_path)

    assert cli.main(["migrate"]) == 2

    err = capsys.readouterr().err.strip()
    assert err.startswith("migrate: cannot reach PostgreSQL:") and "\n" not in err

"""Events at rest are AES-encrypted on SQLite and PostgreSQL; a wrong key stops the start."""

import asyncio
import base64
import json
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from application.causes import api_request, caused_by
from application.process_payment import ProcessPayment, process_payment
from entrypoints.container import Container
from tests.cli_process import run_cli
from tests.unit.test_key_registry import A, B, second_start_during_the_first

pytestmark = pytest.mark.integration
AMOUNT = 987_654
NOTE = "blue-whale-on-thursday"
WRONG_KEY = (
    "PAYMENTS_ENCRYPTION_KEY does not decrypt the stored events (wrong key; one they were "
    "written with may belong in PAYMENTS_DECRYPT_ONLY_KEYS)"
)


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def charge(container: Container, user_id: str) -> str:
    with caused_by(api_request("req-secret-1", user_id)):
        receipt = asyncio.run(
            process_payment(
                ProcessPayment(
                    user_id=user_id,
                    amount=AMOUNT,
                    currency="usd",
                    payment_method_id="pm_card_visa",
                    metadata={"note": NOTE},
                ),
                store=container.payment_store(),
                gateway=container.gateway(),
                wallets=container.wallets(),
            )
        )
    return receipt.payment_id


def _text(row: tuple[object, ...]) -> str:
    return " ".join(
        bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row
    )


def sqlite_tables(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            name: [_text(row) for row in db.execute(f'SELECT * FROM "{name}"')] for name in names
        }


def postgres_tables(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as db:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        names = [r[0] for r in db.execute(query).fetchall()]
        return {
            name: [_text(row) for row in db.execute(f'SELECT * FROM "{name}"').fetchall()]
            for name in names
        }


def raw_tables(env: dict[str, str]) -> dict[str, list[str]]:
    if "PAYMENTS_DATABASE_URL" in env:
        return postgres_tables(env["PAYMENTS_DATABASE_URL"])
    data = Path(env["PAYMENTS_DATA_DIR"])
    return {
        f"{f.name}:{t}": rows for f in data.glob("*.db") for t, rows in sqlite_tables(f).items()
    }


def event_rows(env: dict[str, str]) -> str:
    tables = raw_tables(env)
    rows = [row for name, rows in tables.items() if "events" in name for row in rows]
    assert rows, tables.keys()
    return "\n".join(rows)


def test_raw_event_rows_hold_no_amount_user_or_metadata(
    backend_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    env = {**backend_env, "PAYMENTS_ENCRYPTION_KEY": new_key()}
    container = make_container(env)
    user_id = f"user-{secrets.token_hex(6)}"
    payment_id = charge(container, user_id)
    container.history_runner().run_once()
    container.chain_runner().run_once()

    stored = event_rows(env)
    assert str(AMOUNT) not in stored
    assert user_id not in stored
    assert NOTE not in stored and "req-secret-1" not in stored
    everything = "\n".join("\n".join(rows) for rows in raw_tables(env).values())
    assert NOTE not in everything  # read models and the chain never hold metadata

    story = container.audit_trail().events_of(UUID(payment_id))
    assert story[0].data["metadata"] == {"note": NOTE} and story[0].data["amount"] == AMOUNT
    assert story[0].cause == {"request_id": "req-secret-1", "user_id": user_id}


def test_the_worker_commands_read_encrypted_events_with_the_same_key(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
) -> None:
    env = {**backend_env, "PAYMENTS_ENCRYPTION_KEY": new_key()}
    container = make_container(env)
    payment_id = charge(container, "someone")
    logged = container.payment_store().app.recorder.max_notification_id()

    replayed = run_cli(env, "replay", cwd=tmp_path)
    verified = run_cli(env, "audit", "verify", cwd=tmp_path)
    shown = run_cli(env, "audit", "show", payment_id, cwd=tmp_path)

    assert replayed.returncode == 0 and replayed.stdout.startswith(
        f"history: rebuilt from {logged} "
    )
    assert verified.returncode == 0 and verified.stdout.startswith(f"OK: {logged} events verified")
    assert shown.returncode == 0 and NOTE in shown.stdout


def test_without_a_key_the_same_rows_are_readable(
    backend_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    container = make_container(backend_env)
    user_id = f"user-{secrets.token_hex(6)}"
    charge(container, user_id)

    stored = event_rows(backend_env)
    assert str(AMOUNT) in stored and user_id in stored and NOTE in stored


@pytest.mark.parametrize(
    ("written_with", "started_with", "message"),
    [
        ("key", "other", WRONG_KEY),
        ("key", None, "the stored events are encrypted: set PAYMENTS_ENCRYPTION_KEY"),
        (None, "key", "PAYMENTS_ENCRYPTION_KEY is set but the stored events are not encrypted"),
    ],
)
def test_a_wrong_or_missing_key_stops_every_command_with_one_line(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
    written_with: str | None,
    started_with: str | None,
    message: str,
) -> None:
    keys = {"key": new_key(), "other": new_key()}
    env = dict(backend_env)
    if written_with:
        env["PAYMENTS_ENCRYPTION_KEY"] = keys[written_with]
    charge(make_container(env), "someone")
    env.pop("PAYMENTS_ENCRYPTION_KEY", None)
    if started_with:
        env["PAYMENTS_ENCRYPTION_KEY"] = keys[started_with]

    for command in (["serve", "--port", "1"], ["project"], ["replay"], ["audit", "export"]):
        result = run_cli(env, *command, cwd=tmp_path, timeout=60)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert result.stderr == f"configuration error: {message}\n", command
        assert result.stdout == ""


def test_a_key_is_rotated_while_every_event_stays_readable_and_verified(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
) -> None:
    """Rotation in two steps: every process is given the next key to read with, then the next
    key writes and the old one only reads. Stored events are never rewritten."""
    old, new = new_key(), new_key()
    before = {**backend_env, "PAYMENTS_ENCRYPTION_KEY": old}
    learning = {**backend_env, "PAYMENTS_ENCRYPTION_KEY": old, "PAYMENTS_DECRYPT_ONLY_KEYS": new}
    rotated = {**backend_env, "PAYMENTS_ENCRYPTION_KEY": new, "PAYMENTS_DECRYPT_ONLY_KEYS": old}
    first = charge(make_container(before), "rotating")
    for step in (before, learning, rotated):  # each step's processes start (and check keys)
        assert run_cli(step, "replay", cwd=tmp_path).returncode == 0

    second = charge(make_container(rotated), "rotating")

    # A process not yet restarted reads what a rotated one wrote, and the other way round.
    for env in (learning, rotated):
        store = make_container(env).payment_store()
        for payment_id in (first, second):
            payment = store.find(UUID(payment_id))
            assert payment is not None and payment.metadata == {"note": NOTE}
    assert str(AMOUNT) not in event_rows(rotated)
    logged = make_container(rotated).payment_store().app.recorder.max_notification_id()
    verified = run_cli(rotated, "audit", "verify", cwd=tmp_path)
    assert verified.returncode == 0 and verified.stdout.startswith(f"OK: {logged} events verified")
    listed = [
        json.loads(line) for line in run_cli(rotated, "keys", cwd=tmp_path).stdout.splitlines()
    ]
    assert {k["configured"]: k["wroteEvents"] for k in listed} == {
        "encrypts": True,  # since the swap
        "decrypts only": True,  # everything before it
    }
    assert len(listed) == 2
    assert old not in json.dumps(listed) and new not in json.dumps(listed)
    # Without the old key the events it wrote cannot be read: the commands stop at start.
    refused = run_cli({**backend_env, "PAYMENTS_ENCRYPTION_KEY": new}, "replay", cwd=tmp_path)
    assert (refused.returncode, refused.stderr) == (2, f"configuration error: {WRONG_KEY}\n")
    # A key swapped in without the first step would write what the others cannot read.
    hasty = {**rotated, "PAYMENTS_ENCRYPTION_KEY": new_key(), "PAYMENTS_DECRYPT_ONLY_KEYS": new}
    hasty["PAYMENTS_DECRYPT_ONLY_KEYS"] = f"{new},{old}"  # every key that wrote is there
    refused = run_cli(hasty, "replay", cwd=tmp_path)
    assert refused.returncode == 2
    assert "was never given to a process to read with" in refused.stderr


def test_keygen_prints_a_key_the_settings_accept(tmp_path: Path) -> None:
    result = run_cli({}, "keygen", cwd=tmp_path)
    assert result.returncode == 0
    key = result.stdout.strip()
    assert len(base64.b64decode(key, validate=True)) == 32
    assert run_cli({}, "keygen", cwd=tmp_path).stdout.strip() != key


def test_on_postgresql_a_start_waits_for_one_under_way_and_sees_what_it_recorded(
    postgres_url: str, tmp_path: Path
) -> None:
    first, second = (
        EventSourcedPaymentStore.from_env(
            persistence_env(postgres_url, tmp_path / "unused.db", encryption_key=key)
        )
        for key in (A, B)
    )

    assert second_start_during_the_first(first, second) == ["refused"]

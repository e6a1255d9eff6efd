"""`payment-service audit verify|show|export`: the auditor's commands on real databases."""

import asyncio
import base64
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import OperationalError as PersistenceOperationalError

from application.causes import caused_by, command, stripe_event
from application.process_payment import ProcessPayment, process_payment
from entrypoints import audit_cli, cli
from entrypoints.container import Container
from tests.cli_process import cli_in_process, run_cli

pytestmark = pytest.mark.integration


def logged(container: Container) -> int:
    """How many events the log holds: payments', wallets' and their lookup records."""
    return container.payment_store().app.recorder.max_notification_id() or 0


def charge(container: Container, user_id: str, amount: int) -> str:
    return asyncio.run(
        process_payment(
            ProcessPayment(
                user_id=user_id, amount=amount, currency="usd", payment_method_id="pm_card_visa"
            ),
            store=container.payment_store(),
            gateway=container.gateway(),
            wallets=container.wallets(),
        )
    ).payment_id


@pytest.fixture
def pg_env(base_env: dict[str, str], postgres_url: str) -> dict[str, str]:
    return {**base_env, "PAYMENTS_DATABASE_URL": postgres_url}


def test_verify_names_the_first_event_edited_in_postgres(
    pg_env: dict[str, str], make_container: Callable[[dict[str, str]], Container], tmp_path: Path
) -> None:
    container = make_container(pg_env)
    ids = [charge(container, f"user-{n}", 1000 + n) for n in range(3)]
    first = run_cli(pg_env, "audit", "verify", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    expected = f"OK: {logged(container)} events verified; the hash chain is intact; last link "
    assert first.stdout.startswith(expected)
    assert len(first.stdout.split()[-1]) == 64

    with psycopg.connect(pg_env["PAYMENTS_DATABASE_URL"], autocommit=True) as db:
        edited = db.execute(
            "UPDATE payments_events SET state = convert_to(replace(convert_from(state, 'UTF8'), "
            "'1001', '1'), 'UTF8') WHERE originator_id = %s AND originator_version = 1 "
            "RETURNING notification_id",
            (ids[1],),
        ).fetchone()
    assert edited is not None
    charge(container, "user-late", 5000)  # written after the edit: the chain is extended first

    result = run_cli(pg_env, "audit", "verify", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == (
        f"TAMPERED: event at position {edited[0]} (aggregate {ids[1]}, version 1) "
        f"no longer matches its stored bytes; {edited[0] - 1} events before it are intact\n"
    )


def test_verify_notices_a_removed_event(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
) -> None:
    container = make_container(backend_env)
    payment_id = charge(container, "user-1", 1000)
    container.chain_runner().run_once()
    store = container.payment_store()
    table = "payments_events" if "PAYMENTS_DATABASE_URL" in backend_env else "stored_events"
    if "PAYMENTS_DATABASE_URL" in backend_env:
        with psycopg.connect(backend_env["PAYMENTS_DATABASE_URL"], autocommit=True) as db:
            db.execute(f"DELETE FROM {table} WHERE originator_version = 3")
    else:
        with store.app.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
            c.execute(f"DELETE FROM {table} WHERE originator_version = 3")

    result = run_cli(backend_env, "audit", "verify", cwd=tmp_path)

    assert result.returncode == 1
    assert f"(aggregate {payment_id}, version 3) was removed" in result.stdout


def test_verify_needs_no_key_and_names_a_garbled_encrypted_event(
    base_env: dict[str, str],
    postgres_url: str,
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {**base_env, "PAYMENTS_DATABASE_URL": postgres_url, "PAYMENTS_ENCRYPTION_KEY": key}
    payment_id = charge(make_container(env), "user-1", 1000)
    assert run_cli(env, "audit", "verify", cwd=tmp_path).returncode == 0
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(
            "UPDATE payments_events "
            "SET state = set_byte(state, 19, (get_byte(state, 19) + 1) % 256) "
            "WHERE originator_version = 1"
        )
    del env["PAYMENTS_ENCRYPTION_KEY"]

    result = run_cli(env, "audit", "verify", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    assert f"(aggregate {payment_id}, version 1) no longer matches" in result.stdout


def test_show_and_export_write_each_event_with_its_cause(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
) -> None:
    container = make_container(backend_env)
    with caused_by(command("import")):
        paid = charge(container, "user-1", 1200)
    with caused_by(stripe_event("evt_1Nq8")):
        other = charge(container, "user-2", 3400)

    shown = run_cli(backend_env, "audit", "show", paid, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(e["version"], e["type"]) for e in lines] == [
        (1, "Initiated"), (2, "IntentCreated"), (3, "Succeeded"),
    ]  # fmt: skip
    assert {json.dumps(e["cause"]) for e in lines} == {'{"command": "import"}'}
    assert lines[0]["data"]["amount"] == 1200 and lines[0]["aggregateId"] == paid

    exported = run_cli(backend_env, "audit", "export", cwd=tmp_path)
    everything = logged(container)
    assert exported.returncode == 0 and exported.stderr == f"exported {everything} events\n"
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["position"] for r in rows] == list(range(1, everything + 1))
    payments = [r for r in rows if r["aggregateId"] in (paid, other)]
    assert [r["aggregateId"] for r in payments] == [paid] * 3 + [other] * 3
    assert payments[3]["cause"] == {"stripeEventId": "evt_1Nq8"}
    assert payments[0]["data"]["userId"] == "user-1" and payments[0]["data"]["amount"] == 1200

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    later = run_cli(backend_env, "audit", "export", "--since", tomorrow, cwd=tmp_path)
    assert later.stdout == "" and later.stderr == "exported 0 events\n"
    today = datetime.now(UTC).date().isoformat()
    assert (
        len(
            run_cli(
                backend_env, "audit", "export", "--since", today, cwd=tmp_path
            ).stdout.splitlines()
        )
        == everything
    )


def test_bad_audit_arguments_get_one_clear_error(base_env: dict[str, str], tmp_path: Path) -> None:
    bad_date = run_cli(base_env, "audit", "export", "--since", "last week", cwd=tmp_path)
    assert bad_date.returncode == 2 and "use an ISO date" in bad_date.stderr
    bad_id = run_cli(base_env, "audit", "show", "not-a-uuid", cwd=tmp_path)
    assert (bad_id.returncode, bad_id.stderr) == (2, "not a payment id: 'not-a-uuid'\n")
    unknown = run_cli(
        base_env, "audit", "show", "6f6b3c2e-1d0a-4a57-9e43-7c1f6a0b9d11", cwd=tmp_path
    )
    assert (unknown.returncode, unknown.stderr) == (1, "payment not found\n")


def test_verify_that_cannot_read_the_events_is_not_a_finding_of_tampering(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    charge(make_container(backend_env), "user-1", 1000)
    cli_in_process(monkeypatch, backend_env, tmp_path)

    def restarted(*_: object) -> None:
        raise PersistenceOperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(audit_cli, "verify_chain", restarted)

    assert cli.main(["audit", "verify"]) == 2
    out, err = capsys.readouterr()
    assert "TAMPERED" not in out and "OK" not in out
    assert err == (
        "audit verify: not verified, the events could not be read: "
        "server closed the connection unexpectedly\n"
    )

"""`payment-service replay`: drop a read model and rebuild it, identical, with the service up."""

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.cli_process import run_cli
from tests.conftest import bearer, eventually
from tests.generated import Expected, generate
from tests.views import assert_exact, snapshot

pytestmark = pytest.mark.integration
SUMMARY = re.compile(r"history: rebuilt from (\d+) events in [\d.]+s, now at position (\d+)\n")


def test_a_rebuild_of_10000_payments_equals_the_live_view_row_for_row(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
) -> None:
    container = make_container(backend_env)
    store, runner = container.payment_store(), container.history_runner()
    expected = Expected()
    for chunk in range(10):  # the live view follows the log as it grows
        part = generate(store, 1000, prefix=f"c{chunk}")
        expected.status.update(part.status)
        expected.refunded.update(part.refunded)
        runner.run_once()
    live = snapshot(backend_env)
    assert_exact(live, expected)
    assert any(refunded for refunded in expected.refunded.values())

    result = run_cli(backend_env, "replay", "--projection", "history", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    summary = SUMMARY.fullmatch(result.stdout)
    last = store.app.recorder.max_notification_id()
    assert summary is not None, result.stdout
    assert int(summary[1]) == int(summary[2]) == last
    assert snapshot(backend_env) == live


def test_replaying_while_the_api_takes_payments_loses_none(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
) -> None:
    container = make_container(backend_env)
    expected = generate(container.payment_store(), 3000, prefix="before")
    me = bearer("live-user")
    replays: list[Any] = []
    with TestClient(create_app(container)) as client:
        assert eventually(lambda: container.history_runner().lag() == 0, timeout=30)
        replay = threading.Thread(
            target=lambda: replays.append(run_cli(backend_env, "replay", cwd=tmp_path))
        )
        replay.start()
        posted = 0
        while replay.is_alive() or posted < 20:
            body = {"amount": 1000 + posted, "currency": "usd", "paymentMethodId": "pm_card_visa"}
            response = client.post("/api/payments/process", json=body, headers=me)
            assert response.status_code == 201, response.text
            posted += 1
        replay.join()

        def all_listed() -> bool:
            page = client.get("/api/payments/history?limit=1", headers=me).json()
            return bool(page["total"] == posted and container.history_runner().lag() == 0)

        assert eventually(all_listed, timeout=30), (posted, replays[0].stdout)
    assert replays[0].returncode == 0, replays[0].stdout + replays[0].stderr
    rows, _, _ = snapshot(backend_env)
    assert len(rows) == 3000 + posted
    before = {str(pid) for pid in expected.status}
    assert len([row for row in rows if str(row[0]) in before]) == 3000


@pytest.mark.parametrize("name", ["nope", "audit-chain"])
def test_replay_rebuilds_read_models_only(
    base_env: dict[str, str], tmp_path: Path, name: str
) -> None:
    result = run_cli(base_env, "replay", "--projection", name, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"unknown projection '{name}': choose one of history, operator\n"

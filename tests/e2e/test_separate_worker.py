"""`serve --no-projections` leaves the read models to a `payment-service project` process."""

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.cli_process import start_cli
from tests.conftest import bearer, eventually

VISA = {"amount": 4200, "currency": "usd", "paymentMethodId": "pm_card_visa"}


def test_history_comes_from_the_worker_when_the_api_runs_no_projections(
    backend_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
    user_id: str,
) -> None:
    me = bearer(user_id)
    container = make_container(backend_env)
    with TestClient(create_app(container, run_projections=False)) as client:

        def total() -> Any:
            return client.get("/api/payments/history", headers=me).json()["total"]

        assert client.post("/api/payments/process", json=VISA, headers=me).status_code == 201
        time.sleep(0.5)
        assert total() == 0  # nobody projects yet

        worker = start_cli(backend_env, "project", cwd=tmp_path)
        try:
            assert eventually(lambda: total() == 1, timeout=20)
            assert client.post("/api/payments/process", json={**VISA, "amount": 4300}, headers=me)
            assert eventually(lambda: total() == 2, timeout=10)
            assert eventually(lambda: container.chain_runner().lag() == 0, timeout=10)
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(10) == 0
    assert worker.stdout is not None
    output = worker.stdout.read()
    assert "history: active, resuming from position 0" in output
    assert "audit-chain: active, resuming from position 0" in output

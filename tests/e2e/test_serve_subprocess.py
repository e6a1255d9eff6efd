"""`payment-service serve` as a real process, talked to over a socket."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import JWT_SECRET, make_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, base_env: dict[str, str]) -> str:
    port = free_port()
    command = shutil.which("payment-service") or str(
        Path(sys.executable).parent / "payment-service"
    )
    env = {**os.environ, **base_env, "PAYMENTS_JWT_SECRET": JWT_SECRET}
    process = subprocess.Popen(
        [command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"server did not start: {process.communicate()[0].decode()[-2000:]}")
    yield url
    process.terminate()
    assert process.wait(timeout=20) == 0, "the server must exit cleanly on SIGTERM"


def test_a_charge_over_a_real_socket(server: str) -> None:
    headers = {"Authorization": f"Bearer {make_token('socket-user')}"}
    body = {"amount": 1500, "currency": "eur", "paymentMethodId": "pm_card_mastercard"}
    charged = httpx.post(f"{server}/api/payments/process", json=body, headers=headers)
    assert charged.status_code == 201
    payment_id = charged.json()["paymentId"]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        history = httpx.get(f"{server}/api/payments/history", headers=headers).json()
        if history["total"]:
            break
        time.sleep(0.05)
    assert [p["id"] for p in history["payments"]] == [payment_id]

"""`payment-service serve` as a real process, talked to over a socket."""

import time
from pathlib import Path

import httpx
import pytest

from tests.cli_process import serving
from tests.conftest import JWT_SECRET, make_token


@pytest.fixture
def server(tmp_path: Path, base_env: dict[str, str]) -> str:
    with serving({**base_env, "PAYMENTS_JWT_SECRET": JWT_SECRET}, tmp_path) as url:
        yield url


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

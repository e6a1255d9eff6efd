"""`payment-service serve` as a real process: events not delivered before a restart go after it."""

import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.cli_process import COMMAND, serving
from tests.conftest import eventually, make_token
from tests.outbound_receiver import EVENTS_SECRET, receiving


def test_events_the_receiver_missed_are_sent_by_the_restarted_service(
    base_env: dict[str, str], tmp_path: Path, closed_port: int
) -> None:
    env = {
        **base_env,
        "PAYMENTS_EVENTS_WEBHOOK_URLS": f"http://127.0.0.1:{closed_port}/hooks",
        "PAYMENTS_EVENTS_SIGNING_SECRET": EVENTS_SECRET,
    }
    headers = {"Authorization": f"Bearer {make_token('restart-user')}"}
    paid = []
    with serving(env, tmp_path) as url:
        for n in range(3):
            body = {"amount": 1500 + n, "currency": "eur", "paymentMethodId": "pm_card_visa"}
            made = httpx.post(f"{url}/api/payments/process", json=body, headers=headers)
            assert made.status_code == 201, made.text
            paid.append(made.json()["paymentId"])

    with receiving(port=closed_port) as receiver, serving(env, tmp_path):
        arrived = eventually(lambda: len(receiver.acknowledged()) >= 3, timeout=30)
        assert arrived, f"{len(receiver.acknowledged())} of 3 arrived"
        time.sleep(0.5)  # nothing more comes
        got = [c.body for c in receiver.acknowledged()]
    assert sorted(e["data"]["payment"]["id"] for e in got) == sorted(paid)
    assert {e["type"] for e in got} == {"payment.succeeded"}


def test_serve_refuses_events_without_a_long_enough_secret(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        **base_env,
        "PAYMENTS_EVENTS_WEBHOOK_URLS": "https://platform.example/hooks",
        "PAYMENTS_EVENTS_SIGNING_SECRET": "too-short",
    }
    done = subprocess.run(
        [COMMAND, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "configuration error: PAYMENTS_EVENTS_SIGNING_SECRET: must be at least 32 characters"
    )

"""`payment-service serve` as operators run it: several workers, JSON logs, SIGTERM."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from bench.servers import listening_sockets
from prometheus_client.parser import text_string_to_metric_families

from tests.cli_process import free_port
from tests.conftest import eventually, make_token

VISA = {"amount": 1500, "currency": "eur", "paymentMethodId": "pm_card_visa"}


class Server:
    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = shutil.which("payment-service") or str(
            Path(sys.executable).parent / "payment-service"
        )
        self.process = subprocess.Popen(
            [command, "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.process.kill()
        pytest.fail(f"server did not start: {self.process.communicate()[0].decode()[-2000:]}")

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        output = self.process.communicate(timeout=30)[0].decode()
        return self.process.returncode, output


def refuses_connections(port: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_metrics_count_every_worker_and_logs_are_json_lines(
    tmp_path: Path, base_env: dict[str, str], servers: list[Server]
) -> None:
    servers.append(server := Server(tmp_path, base_env, "--workers", "2", "--no-projections"))
    # the first worker answers before the second listens
    assert eventually(lambda: listening_sockets(server.port) == 2, timeout=30), (
        "the second worker never listened"
    )
    headers = {"Authorization": f"Bearer {make_token('worker-user')}"}
    charges = 24

    def charge(n: int) -> int:
        # a new connection each time, from several threads: both workers get some
        with httpx.Client() as client:
            return client.post(
                f"{server.url}/api/payments/process",
                json={**VISA, "amount": 1500 + n},
                headers={**headers, "X-Request-ID": f"charge-{n}"},
            ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(charge, range(charges))) == {201}

    def counted() -> float:
        text = httpx.get(f"{server.url}/metrics").text
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "payments_total" and s.labels == {"status": "succeeded"}
        )

    scrapes = {counted() for _ in range(6)}  # whichever worker answers
    code, output = server.stop()

    assert scrapes == {charges}
    assert code == 0
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(records) == len([line for line in output.splitlines() if line.strip()])
    answered_by = {r["pid"] for r in records if r.get("event") == "request"}
    traced = {r["request_id"] for r in records if r.get("event") == "payment.process"}
    assert traced == {f"charge-{n}" for n in range(charges)}
    assert len(answered_by) == 2, "both workers should have answered some requests"
    assert not list(tmp_path.glob("var/metrics-*")), "the samples directory is removed at exit"


def test_sigterm_finishes_the_request_in_flight_then_exits_0(
    tmp_path: Path, base_env: dict[str, str], servers: list[Server]
) -> None:
    servers.append(server := Server(tmp_path, base_env))
    body = json.dumps(VISA).encode()
    head = (
        "POST /api/payments/process HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {make_token('drain-user')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    in_flight = socket.create_connection(("127.0.0.1", server.port))
    in_flight.sendall(head + body[:10])
    time.sleep(1.0)  # the server has the request and waits for the rest of its body

    server.process.send_signal(signal.SIGTERM)
    assert refuses_connections(server.port, within=5.0)
    in_flight.sendall(body[10:])
    answer = b""
    while chunk := in_flight.recv(65536):
        answer += chunk
    in_flight.close()
    code = server.process.wait(timeout=30)

    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    payment_id = json.loads(answer.split(b"\r\n\r\n", 1)[1])["paymentId"]
    assert code == 0

    servers.append(again := Server(tmp_path, base_env, "--no-projections"))
    headers = {"Authorization": f"Bearer {make_token('drain-user')}"}
    history = httpx.get(f"{again.url}/api/payments/history", headers=headers).json()
    assert [p["id"] for p in history["payments"]] == [payment_id], "projected before exit"
    assert again.stop()[0] == 0

"""`serve --workers 2`: new connections are spread over the workers, and a killed worker's
replacement takes its share on the same port."""

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from bench.servers import listening_sockets

from tests.cli_process import COMMAND, cli_env, free_port, run_cli, worker_pids
from tests.conftest import eventually

pytestmark = pytest.mark.slow
CONNECTIONS, ROUNDS = 16, 3


@contextmanager
def two_workers(
    tmp_path: Path, env: dict[str, str], loop: str = "auto"
) -> Iterator[tuple[int, "Server"]]:
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
             "--no-projections", "--loop", loop],
            env=cli_env(env), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        server = Server(process, log_path)
        try:
            up = eventually(lambda: _live(port) and listening_sockets(port) == 2, timeout=30)
            assert up, log_path.read_text()[-2000:]
            yield port, server
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, "the server must exit cleanly on SIGTERM"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


class Server:
    def __init__(self, process: "subprocess.Popen[bytes]", log: Path) -> None:
        self.process, self.log = process, log

    def answered_by(self) -> dict[str, int]:
        """Request id -> the pid of the worker that answered it, from the JSON access log."""
        answered = {}
        for line in self.log.read_text().splitlines():
            try:
                record: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:  # a line being written
                continue
            if record.get("event") == "request":
                answered[record["request_id"]] = record["pid"]
        return answered


def _live(port: int) -> bool:
    try:
        return _get_once(port, "live") == 200
    except OSError:
        return False


def open_connection(port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    return connection


def _get_once(port: int, request_id: str) -> int:
    """One request on a new connection, closed after the answer."""
    connection = open_connection(port)
    try:
        return _get(connection, request_id)[0]
    finally:
        connection.close()


def _get(connection: http.client.HTTPConnection, request_id: str) -> tuple[int, bool]:
    connection.request("GET", "/health/live", headers={"X-Request-ID": request_id})
    answer = connection.getresponse()
    answer.read()
    return answer.status, answer.will_close


@pytest.mark.parametrize("loop", ["auto", "uvloop", "asyncio"])
def test_a_burst_of_keep_alive_connections_is_spread_over_both_workers(
    tmp_path: Path, base_env: dict[str, str], loop: str
) -> None:
    with two_workers(tmp_path, base_env, loop) as (port, server):
        connections = [open_connection(port) for _ in range(CONNECTIONS)]  # all at once
        local_ports = [c.sock.getsockname()[1] for c in connections]
        for round_ in range(ROUNDS):
            for n, connection in enumerate(connections):
                assert _get(connection, f"conn-{n}-{round_}") == (200, False)
        assert [c.sock.getsockname()[1] for c in connections] == local_ports, "kept alive"
        for connection in connections:
            connection.close()
        answered_by = server.answered_by()
        workers = set(worker_pids(server.process))

    per_connection = [
        {answered_by[f"conn-{n}-{r}"] for r in range(ROUNDS)} for n in range(CONNECTIONS)
    ]
    assert all(len(pids) == 1 for pids in per_connection), "a connection stays with its worker"
    assert set().union(*per_connection) == workers, "both workers answered some connections"


def test_a_storm_of_new_connections_is_answered_on_every_one(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    """600 connections opened at once, each sending one request before any is answered."""

    async def storm(port: int, count: int) -> list[bytes]:
        async def one(n: int) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Request-ID: s-{n}\r\n\r\n".encode()
            )
            status = await reader.readline()
            writer.close()
            return status.split()[1]

        return await asyncio.gather(*(one(n) for n in range(count)))

    with two_workers(tmp_path, base_env) as (port, server):
        statuses = asyncio.run(storm(port, 600))
        answered_by = server.answered_by()
    assert statuses == [b"200"] * 600
    assert {f"s-{n}" for n in range(600)} <= set(answered_by)


def test_a_killed_worker_is_replaced_and_the_replacement_serves_on_the_same_port(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    with two_workers(tmp_path, base_env) as (port, server):
        victim, survivor = worker_pids(server.process)
        os.kill(victim, signal.SIGKILL)

        def replacement() -> int | None:
            fresh = set(worker_pids(server.process)) - {victim, survivor}
            return fresh.pop() if fresh else None

        new_worker = eventually(replacement, timeout=30)
        assert new_worker is not None, server.log.read_text()[-2000:]

        sent: list[str] = []

        def replacement_answered() -> bool:
            for _ in range(4):  # new connections: the kernel picks a worker for each
                request_id = f"after-kill-{len(sent)}"
                assert _get_once(port, request_id) == 200
                sent.append(request_id)
            return new_worker in {server.answered_by()[r] for r in sent}

        assert eventually(replacement_answered, timeout=30), server.log.read_text()[-2000:]
        assert {server.answered_by()[r] for r in sent} <= {survivor, new_worker}


def test_a_second_server_on_the_port_is_refused_in_one_line(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    with two_workers(tmp_path, base_env) as (port, _):
        second = run_cli(
            base_env, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
            cwd=tmp_path,
        )  # fmt: skip
        assert listening_sockets(port) == 2
        assert _get_once(port, "still-served") == 200

    assert second.returncode == 2
    assert second.stderr.strip() == f"serve: cannot bind 127.0.0.1:{port}: Address already in use"


UNSTARTABLE = """
import sys
import uvicorn
from entrypoints import reuseport

config = uvicorn.Config(
    "tests.unstartable_app:app", host="127.0.0.1", port=int(sys.argv[1]), workers=2,
    log_config=None,
)
try:
    reuseport.run(config)
except reuseport.WorkerFailedToStart as error:
    print(error)
    sys.exit(3)
"""


def test_workers_that_cannot_start_stop_the_server_and_say_so(tmp_path: Path) -> None:
    """Not served, not restarted for ever, and not reported as a clean exit."""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", UNSTARTABLE, str(free_port())],
        cwd=root, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert "failed to start" in result.stdout

"""Header limits: `serve` refuses a huge header block before reading it, the app a huge line."""

import contextlib
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from tests.conftest import bearer
from tests.e2e.test_serve_subprocess import server  # noqa: F401  (the fixture)

MIB = 1024 * 1024


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1))


def worker_pid(port: int) -> int:
    """The process listening on the port: the only worker of `serve`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inode = fields[9]
    assert inode is not None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
            except OSError:
                continue
    raise AssertionError("no process listens on the port")


def send_raw(port: int, header_bytes: int) -> bytes:
    """A request whose Authorization header is `header_bytes` long; what comes back, if any."""
    head = b"GET /api/payments/history HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        # closed on us before we finished: refused without reading it
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(head + b"a" * header_bytes + b"\r\n\r\n")
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_a_one_mib_header_is_refused_without_the_worker_reading_it(server: str) -> None:  # noqa: F811
    port = int(server.rsplit(":", 1)[1])
    pid = worker_pid(port)
    before = rss_kib(pid)

    answers = [send_raw(port, MIB) for _ in range(5)]

    grown = rss_kib(pid) - before
    for answer in answers:
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert grown < 8 * 1024, f"the worker grew {grown} KiB reading refused headers"
    assert httpx.get(f"{server}/health/live").status_code == 200


def test_headers_over_64_kib_in_all_are_431(server: str) -> None:  # noqa: F811
    port = int(server.rsplit(":", 1)[1])
    answer = send_raw(port, 70 * 1024)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == "VALIDATION_ERROR"


def test_one_header_line_over_16_kib_is_431_and_a_normal_one_passes(
    client: TestClient[Any], user_id: str
) -> None:
    long_line = client.get("/api/payments/history", headers={"X-Note": "a" * (17 * 1024)})
    normal = client.get("/api/payments/history", headers=bearer(user_id))
    assert long_line.status_code == 431
    assert long_line.json()["error"]["code"] == "VALIDATION_ERROR"
    assert normal.status_code == 200


def test_failed_authentications_are_limited_per_address(
    base_env: dict[str, str], make_container: Any
) -> None:
    from entrypoints.http.app import create_app

    env = {**base_env, "PAYMENTS_AUTH_FAILURES_PER_MINUTE": "3"}
    with TestClient(create_app(make_container(env))) as client:
        forged = {"Authorization": "Bearer not-a-token"}
        answers = [client.get("/api/payments/history", headers=forged) for _ in range(5)]
        good = client.get("/api/payments/history", headers=bearer("someone"))
        probe = client.get("/health/live")
        metrics = client.get("/metrics")
        webhook = client.post("/api/webhooks/stripe", json={})
    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
    assert probe.status_code == 200 and metrics.status_code == 200
    assert webhook.status_code == 400, "a webhook is judged by its signature, not the address"
    assert answers[3].json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert good.status_code == 429  # the address, not the token, is what is limited

"""Runs `payment-service` as a real process with a given environment."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

COMMAND = shutil.which("payment-service") or str(Path(sys.executable).parent / "payment-service")


def cli_env(env: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PAYMENTS_", "STRIPE_"))}
    return {**keep, **env}


def cli_in_process(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], cwd: Path | None = None
) -> None:
    """`cli.main` called in this process reads `env` (and runs in `cwd`), as from a shell."""
    if cwd is not None:
        monkeypatch.chdir(cwd)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def run_cli(
    env: dict[str, str], *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *args],
        env=cli_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(env: dict[str, str], *args: str, cwd: Path) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [COMMAND, *args],
        env=cli_env(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def worker_pids(master: "subprocess.Popen[Any]") -> list[int]:
    """uvicorn's worker processes: the master's children but multiprocessing's helpers."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    workers = []
    for pid in children:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in command and b"forkserver" not in command:
            workers.append(int(pid))
    return workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`payment-service serve` on a free loopback port; it must exit cleanly on SIGTERM."""
    port = free_port()
    process = subprocess.Popen(
        [COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"server did not start: {process.communicate()[0].decode()[-2000:]}")
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, "the server must exit cleanly on SIGTERM"

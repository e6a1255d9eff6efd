"""Start the service or the baseline app as real processes on loopback, and watch their memory."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes (the master's children), or the master itself."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        children = [int(p) for p in path.read_text().split()] if path.exists() else []
        return children or [self.process.pid]

    def wait_for_listeners(self, count: int, timeout: float = 60) -> None:
        """Until `count` sockets listen on the port: with a socket per worker, every worker's."""
        deadline = time.monotonic() + timeout
        while listening_sockets(self.port) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} sockets listen on {self.port}")
            time.sleep(0.1)

    def peak_rss_mb(self) -> dict[int, float]:
        peaks = {}
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = round(int(line.split()[1]) / 1024, 1)
        return peaks


def listening_sockets(port: int) -> int:
    """How many TCP sockets listen on this port (from /proc/net/tcp and tcp6)."""
    return sum(1 for _, listening in _tcp_sockets(port) if listening)


def client_connections(pid: int, port: int) -> int:
    """How many connections to this port (a listening socket not counted) process `pid` holds."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            held.add(target.removeprefix("socket:[").removesuffix("]"))
    return sum(1 for inode, listening in _tcp_sockets(port) if not listening and inode in held)


def _tcp_sockets(port: int) -> Iterator[tuple[str, bool]]:
    """(inode, listening) of each TCP socket whose local port is `port`."""
    hex_port = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(hex_port):
                yield fields[9], fields[3] == "0A"  # 0A: LISTEN


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not become ready")


@contextmanager
def running(
    command: list[str],
    env: dict[str, str],
    ready_path: str | None,
    cwd: Path,
    log_file: Path | None = None,
) -> Iterator[Server]:
    """A process on a free loopback port; `ready_path` is polled until it answers 200.

    Its output goes to `log_file` when one is given, else nowhere.
    """
    server = _start(command, env, ready_path, cwd, log_file)
    try:
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()


def _start(
    command: list[str],
    env: dict[str, str],
    ready_path: str | None,
    cwd: Path,
    log_file: Path | None,
) -> Server:
    """Start on a fresh port, again if another process took the port first (up to 3 tries)."""
    for attempt in range(3):
        port = free_port()
        output = log_file.open("ab") if log_file is not None else subprocess.DEVNULL
        process = subprocess.Popen(
            [part.replace("{port}", str(port)) for part in command],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=output,
            stderr=output,
        )
        if log_file is not None:
            output.close()  # type: ignore[union-attr]
        try:
            if ready_path is not None:
                _wait_ready(f"http://127.0.0.1:{port}{ready_path}", process)
            return Server(process, port)
        except RuntimeError:
            process.kill()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def service_command(workers: int, loop: str = "auto") -> list[str]:
    return [
        str(BIN / "payment-service"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        str(workers),
        "--no-projections",
        "--loop",
        loop,
    ]


def minimal_command(workers: int) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "bench.minimal_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]

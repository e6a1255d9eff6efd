"""`payment-service project`: a worker per deployment, one active per projection."""

import queue
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from entrypoints.container import Container
from tests.cli_process import start_cli
from tests.conftest import eventually
from tests.generated import generate
from tests.views import assert_exact, position, snapshot

pytestmark = pytest.mark.integration


class Worker:
    """A `project` process whose output lines are collected as they come."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = start_cli(env, "project", "--projection", "history", cwd=cwd)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def wait_for(self, prefix: str, timeout: float = 20) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9


@pytest.fixture
def pg_env(base_env: dict[str, str], postgres_url: str) -> dict[str, str]:
    return {**base_env, "PAYMENTS_DATABASE_URL": postgres_url}


@pytest.fixture
def workers() -> list[Worker]:
    started: list[Worker] = []
    yield started  # type: ignore[misc]
    for worker in started:
        worker.stop()


def test_a_worker_killed_during_catch_up_resumes_to_an_exact_view(
    pg_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
    workers: list[Worker],
) -> None:
    store = make_container(pg_env).payment_store()
    expected = generate(store, 10_000)
    last = store.app.recorder.max_notification_id() or 0

    workers.append(first := Worker(pg_env, tmp_path))
    first.wait_for("history: active")
    assert eventually(lambda: position(pg_env) > 0, timeout=30)
    first.kill()
    interrupted_at = position(pg_env)
    assert 0 < interrupted_at < last  # killed in the middle of the catch-up

    workers.append(second := Worker(pg_env, tmp_path))
    resumed = second.wait_for("history: active")
    assert resumed == f"history: active, resuming from position {interrupted_at}"
    assert eventually(lambda: position(pg_env) == last, timeout=60)
    assert_exact(snapshot(pg_env), expected)
    assert second.stop() == 0


def test_a_standby_worker_takes_over_when_the_active_one_dies(
    pg_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    tmp_path: Path,
    workers: list[Worker],
) -> None:
    store = make_container(pg_env).payment_store()
    workers.append(one := Worker(pg_env, tmp_path))
    one.wait_for("history: active")
    workers.append(two := Worker(pg_env, tmp_path))
    two.wait_for("history: standby")

    expected = generate(store, 300, prefix="first")
    assert eventually(lambda: position(pg_env) == store.app.recorder.max_notification_id())
    one.kill()
    assert two.wait_for("history: active").startswith("history: active")
    later = generate(store, 300, prefix="later")
    assert eventually(lambda: position(pg_env) == store.app.recorder.max_notification_id())

    expected.status.update(later.status)
    expected.refunded.update(later.refunded)
    assert_exact(snapshot(pg_env), expected)
    assert two.seen == ["history: standby at position 0", two.seen[-1]]
    assert two.stop() == 0

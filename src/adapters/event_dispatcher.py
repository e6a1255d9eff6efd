"""Dispatching threads: each sends one due outbox row at a time until there is none."""

import logging
import threading
import time
from collections.abc import Callable, Sequence

from adapters.projection_lock import ProjectionLock

log = logging.getLogger(__name__)


class DispatcherRunner:
    """Several threads in this process; with a lock (SQLite), only the process holding it."""

    name = "outbound-dispatch"

    def __init__(
        self,
        dispatch: Callable[[], bool],
        *,
        lock: ProjectionLock | None = None,
        workers: int = 4,
        poll_interval: float = 0.1,
        report: Callable[[], None] | None = None,
        report_interval: float = 5.0,
        on_stop: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.dispatch = dispatch
        self.lock = lock
        self.workers = workers
        self.poll_interval = poll_interval
        self.on_stop = on_stop
        self.report = report
        self.report_interval = report_interval
        self._reported = 0.0
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock_guard = threading.Lock()

    def leading(self) -> bool:
        if self.lock is None:
            return True
        with self._lock_guard:
            return self.lock.try_acquire()

    def run_until_idle(self) -> int:
        """Send everything due now (this thread only); returns how many tries were made."""
        tries = 0
        while not self._stopping.is_set() and self.leading() and self.dispatch():
            tries += 1
        return tries

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self.run_until_idle():
                    self._report_now_and_then()
                    self._stopping.wait(self.poll_interval)
                self.error = None
            except Exception as error:  # keep dispatching; the row stays due
                self.error = error
                log.exception("outbound event dispatch failed; retrying")
                self._stopping.wait(1.0)

    def _report_now_and_then(self) -> None:
        now = time.monotonic()
        if self.report is None or now - self._reported < self.report_interval:
            return
        self._reported = now
        self.report()

    def start(self) -> None:
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._work, name=f"{self.name}-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 12.0) -> None:
        """Let the tries in flight finish (each within its timeout), then let go."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        if self.lock is not None:
            with self._lock_guard:
                self.lock.close()
        for close in self.on_stop:
            close()

"""Run a readiness check with a deadline: a probe must answer fast, even when a server hangs."""

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CheckTimedOut(Exception):
    """The check did not answer within its deadline."""


class DeadlineCheck(Generic[T]):
    """At most one run at a time per check: a hung dependency does not pile up threads."""

    def __init__(self, check: Callable[[], T], seconds: float) -> None:
        self._check = check
        self._seconds = seconds
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    def __call__(self) -> T:
        outcome: dict[str, T | BaseException] = {}

        def run() -> None:
            try:
                outcome["value"] = self._check()
            except BaseException as error:  # handed to the caller below
                outcome["error"] = error

        with self._lock:
            if self._running is not None and self._running.is_alive():
                raise CheckTimedOut("an earlier check is still waiting for an answer")
            thread = threading.Thread(target=run, name="readiness-check", daemon=True)
            self._running = thread
            thread.start()
        thread.join(self._seconds)
        if thread.is_alive():
            raise CheckTimedOut(f"no answer within {self._seconds} s")
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]  # type: ignore[return-value]

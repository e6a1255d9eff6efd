"""A circuit breaker: after a failure a dependency is skipped until a background probe passes.

While open, callers go straight to their fallback instead of each waiting for a timeout;
one log line marks each change of state, and the calls skipped in between are counted.
"""

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

RETRY_EVERY_SECONDS = 2.0


class CircuitBreaker:
    """Closed: calls go through. Open: calls are skipped; a thread probes until one passes."""

    def __init__(
        self,
        name: str,
        probe: Callable[[], object],
        *,
        retry_every: float = RETRY_EVERY_SECONDS,
        on_change: Callable[[bool], None] | None = None,
        on_skip: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._probe = probe
        self._retry_every = retry_every
        self._on_change = on_change
        self._on_skip = on_skip
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._open = False
        self.skipped = 0
        self.last_error: str | None = None

    @property
    def is_open(self) -> bool:
        return self._open

    def allow(self) -> bool:
        """Whether to call the dependency now; a refusal is counted."""
        if not self._open:
            return True
        with self._lock:
            self.skipped += 1
        if self._on_skip is not None:
            self._on_skip()
        return False

    def failed(self, error: BaseException) -> None:
        """A call failed (timeout, refused, reset): open, and start probing in the background."""
        with self._lock:
            self.last_error = type(error).__name__
            if self._open or self._stopped.is_set():
                return
            self._open = True
            self.skipped = 0
        log.warning("%s unavailable (%s): skipped until it answers", self.name, self.last_error)
        self._changed(True)
        probing = threading.Thread(target=self._probe_until_closed, name=f"{self.name}-probe")
        probing.daemon = True
        probing.start()

    def stop(self) -> None:
        self._stopped.set()

    def _probe_until_closed(self) -> None:
        while not self._stopped.wait(self._retry_every):
            try:
                self._probe()
            except Exception as error:  # the probe's failures are what it is for
                self.last_error = type(error).__name__
                continue
            with self._lock:
                self._open = False
                skipped = self.skipped
            log.warning("%s answers again; %d calls skipped meanwhile", self.name, skipped)
            self._changed(False)
            return

    def _changed(self, opened: bool) -> None:
        if self._on_change is not None:
            self._on_change(opened)

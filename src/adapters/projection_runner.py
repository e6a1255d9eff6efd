"""Feeds a projection from the event store's notification log, one tracked event at a time.

The library's ProjectionRunner needs recorder subscriptions, which SQLite lacks; this runner
polls the log instead, so one code path serves SQLite and PostgreSQL. Exactly-once comes
from the view, which commits each update together with its tracking position.
"""

import logging
import threading
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

log = logging.getLogger(__name__)


class PollingProjectionRunner:
    def __init__(
        self,
        app: Application[Any],
        projection: Projection[Any],
        view: TrackingRecorder,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.05,
    ) -> None:
        self.app = app
        self.projection = projection
        self.view = view
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def position(self) -> int:
        return self.view.max_tracking_id(self.app.name) or 0

    def run_once(self) -> int:
        """Process what the log holds beyond the tracked position; returns how many."""
        return self._process(until_stopped=True)

    def catch_up(self) -> int:
        """After stop(): process what the log holds now, so the view misses no last write."""
        return self._process(until_stopped=False)

    def _process(self, *, until_stopped: bool) -> int:
        processed = 0
        while not (until_stopped and self._stopping.is_set()):
            notifications = self.app.recorder.select_notifications(
                start=self.position, limit=self.batch_size, inclusive_of_start=False
            )
            wanted = set(self.projection.topics)
            for notification in notifications:
                if not wanted or notification.topic in wanted:
                    event = self.app.mapper.to_domain_event(notification)
                    tracking = Tracking(self.app.name, notification.id)
                    self.projection.process_event(event, tracking)
            if notifications and wanted and notifications[-1].topic not in wanted:
                self.view.insert_tracking(Tracking(self.app.name, notifications[-1].id))
            processed += len(notifications)
            if len(notifications) < self.batch_size:
                return processed
        return processed

    def run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                processed = self.run_once()
                self.error = None
                if not processed:
                    self._stopping.wait(self.poll_interval)
            except Exception as error:  # keep following the log; the view is unchanged
                self.error = error
                log.exception("projection %s failed; retrying", self.projection.name)
                self._stopping.wait(1.0)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run_forever, name=f"projection-{self.projection.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def lag(self) -> int:
        """How many notifications the view is behind the log."""
        return max((self.app.recorder.max_notification_id() or 0) - self.position, 0)

"""Feeds projections from the event store's notification log, one tracked batch at a time.

The library's ProjectionRunner needs recorder subscriptions, which SQLite lacks; this runner
polls the log instead, so one code path serves SQLite and PostgreSQL. Exactly-once comes
from each follower, which commits its updates together with its tracking position.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, Protocol

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from adapters.projection_lock import ProjectionLock

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


class LogFollower(Protocol):
    """Something kept up to date from the log: a read model, or the audit hash chain."""

    name: str

    def position(self) -> int: ...

    def follow(self, notifications: Sequence[Notification]) -> None: ...

    def clear(self) -> None: ...


class ProjectionFollower:
    """An eventsourcing Projection and its view, fed the events it subscribes to."""

    def __init__(
        self, app: Application[Any], projection: Projection[Any], view: TrackingRecorder
    ) -> None:
        self.app = app
        self.projection = projection
        self.view = view
        self.name = projection.name
        self.wanted = set(projection.topics)

    def position(self) -> int:
        return self.view.max_tracking_id(self.app.name) or 0

    def follow(self, notifications: Sequence[Notification]) -> None:
        if not notifications:
            return
        last = Tracking(self.app.name, notifications[-1].id)
        batch = getattr(self.view, "batch", None)  # one transaction for the whole batch
        with batch(last) if batch is not None else nullcontext():
            prefetch = getattr(self.view, "prefetch", None)  # the batch's rows in one read
            if prefetch is not None:
                prefetch({n.originator_id for n in notifications if self._wants(n)})
            for notification in notifications:
                if self._wants(notification):
                    event = self.app.mapper.to_domain_event(notification)
                    self.projection.process_event(event, Tracking(self.app.name, notification.id))
        if batch is None and self.wanted and notifications[-1].topic not in self.wanted:
            self.view.insert_tracking(last)

    def _wants(self, notification: Notification) -> bool:
        return not self.wanted or notification.topic in self.wanted

    def clear(self) -> None:
        clear: Callable[[], None] | None = getattr(self.view, "clear", None)
        if clear is None:
            raise NotImplementedError(f"the {self.name} view cannot be cleared for a rebuild")
        clear()


class PollingProjectionRunner:
    """Keeps one follower up to date from the log, while it holds the projection's lock."""

    def __init__(
        self,
        app: Application[Any],
        projection: Projection[Any] | LogFollower,
        view: TrackingRecorder | None = None,
        *,
        lock: ProjectionLock | None = None,
        batch_size: int = 500,
        poll_interval: float = 0.05,
    ) -> None:
        self.app = app
        self.follower: LogFollower
        if isinstance(projection, Projection):
            if view is None:
                raise TypeError("a Projection needs the view it writes to")
            self.follower = ProjectionFollower(app, projection, view)
        else:
            self.follower = projection
        self.lock = lock
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.active = lock is None
        self.resumed_from: int | None = None
        self.decided = lock is None  # whether it has tried for the lock yet
        self._rebuilding = False

    @property
    def name(self) -> str:
        return self.follower.name

    @property
    def position(self) -> int:
        return self.follower.position()

    def run_once(self, progress: Progress | None = None) -> int:
        """Process what the log holds beyond the tracked position; returns how many."""
        return self._process(until_stopped=True, progress=progress)

    def _process(self, *, until_stopped: bool, progress: Progress | None = None) -> int:
        processed = 0
        while not (until_stopped and self._stopping.is_set()) and not self._rebuild_pending():
            notifications = self.app.recorder.select_notifications(
                start=self.position, limit=self.batch_size, inclusive_of_start=False
            )
            self.follower.follow(notifications)
            processed += len(notifications)
            if progress is not None:
                progress(processed, self.lag())
            if len(notifications) < self.batch_size:
                break
        return processed

    def _rebuild_pending(self) -> bool:
        if self.lock is None or not self.active or self._rebuilding:
            return False
        return self.lock.rebuild_pending()

    def cycle(self) -> int:
        """One turn of the loop: lead if no one else does, step aside for a rebuild."""
        if self.lock is not None:
            if self.lock.rebuild_pending():
                self.lock.release()
                self.active = False
                return 0
            acquired = self.lock.try_acquire()
            if acquired and not self.active:  # known before `active` says so (others read both)
                self.resumed_from = self.position
            self.active, self.decided = acquired, True
            if not self.active:
                return 0
        return self.run_once()

    def run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                processed = self.cycle()
                self.error = None
                if processed < self.batch_size:
                    # caught up: let the log gather a batch rather than take events one by
                    # one, each with a transaction, a tracking row and a lock check of its own
                    self._stopping.wait(self.poll_interval)
            except Exception as error:  # keep following the log; the view is unchanged
                self.error = error
                log.exception("projection %s failed; retrying", self.name)
                self._step_down()
                self._stopping.wait(1.0)

    def _step_down(self) -> None:
        """Let another runner try while this one recovers."""
        if self.lock is None:
            return
        self.active = False
        try:
            self.lock.release()
        except Exception:  # the lock's connection is gone: so is the lock
            self.lock.close()

    def rebuild(self, progress: Progress | None = None, timeout: float = 60.0) -> int:
        """Drop the follower's state and replay the whole log, with the lock of the live one."""
        if self.lock is not None and not self.lock.acquire_for_rebuild(timeout):
            raise TimeoutError(
                f"{self.name}: the projection's lock was not free within {timeout:.0f}s "
                "(another rebuild is running, or the active runner is stuck)"
            )
        self._rebuilding = True
        try:
            self.follower.clear()
            return self.run_once(progress)
        finally:
            self._rebuilding = False
            if self.lock is not None:
                self.lock.release_rebuild()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run_forever, name=f"projection-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0, *, catch_up: bool = False) -> None:
        """Stop following; with `catch_up`, the active runner first takes in what the log
        holds now (the requests drained before shutdown), then gives up its lock."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                # Still in a batch (a slow database): a catch-up beside it would take in the
                # same events twice, and a standby given the lock would write beside it. The
                # lock goes with the process; what is left is the next runner's.
                log.warning("%s: still in a batch after %.0fs; not caught up", self.name, timeout)
                return
        try:
            if catch_up and self.active and self._thread is not None:
                self._process(until_stopped=False)
        finally:
            if self.lock is not None:
                self.lock.close()

    def lag(self) -> int:
        """How many notifications the follower is behind the log."""
        return max((self.app.recorder.max_notification_id() or 0) - self.position, 0)

"""The audit hash chain's state for the console's front page: its last link, and a verify."""

import threading
import time
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application

from adapters.hash_chain import HashChainView, verify_chain

FRESH_SECONDS = 60.0


@dataclass(frozen=True, kw_only=True)
class ChainReport:
    last_position: int | None
    last_digest: str | None
    log_head: int
    checked: int
    intact: bool
    problem: str | None
    verified_at: float


class ChainState:
    """`audit verify`'s check, remembered for a minute so that busy pages do not repeat it."""

    def __init__(self, app: Application[Any], chain: HashChainView) -> None:
        self.app = app
        self.chain = chain
        self._lock = threading.Lock()
        self._report: ChainReport | None = None

    def current(self) -> ChainReport:
        with self._lock:
            report = self._report
            if report is None or time.time() - report.verified_at > FRESH_SECONDS:
                report = self._report = self._verify()
            return report

    def _verify(self) -> ChainReport:
        checked, tampering = verify_chain(self.app, self.chain)
        last = self.chain.last_link()
        return ChainReport(
            last_position=last.position if last else None,
            last_digest=last.digest if last else None,
            log_head=self.app.recorder.max_notification_id() or 0,
            checked=checked,
            intact=tampering is None,
            problem=str(tampering) if tampering else None,
            verified_at=time.time(),
        )

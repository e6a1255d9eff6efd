"""When an outbound event that was not acknowledged is tried again, and when it is given up."""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

HOUR = 3600.0


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff with jitter: 1 s doubling up to 1 h; parked after 72 h of trying."""

    base: float = 1.0
    cap: float = HOUR
    give_up_after: timedelta = timedelta(hours=72)
    jitter: float = 0.25  # each delay is drawn from [(1 - jitter) * d, d], never under `base`
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, failures: int) -> float:
        """The delay before the next try, without jitter, after `failures` failed tries."""
        exponent = min(max(failures - 1, 0), 64)
        return float(min(self.cap, self.base * 2**exponent))

    def delay(self, failures: int) -> float:
        ceiling = self.backoff(failures)
        return max(self.base, self.rng.uniform((1 - self.jitter) * ceiling, ceiling))

    def gives_up(self, first_attempt_at: datetime, now: datetime) -> bool:
        return now - first_attempt_at >= self.give_up_after

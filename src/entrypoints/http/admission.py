"""Admission control and deadlines: each worker runs a bounded number of charges and refunds.

Beyond the bound a request is refused at once, before anything is stored or sent to Stripe;
an admitted one is answered within its deadline (the work Stripe has started still finishes
and is recorded; a retry with the same key gets its outcome). The bound is a count that also
follows the worker's own pace: while its event loop runs late (its CPU is spent), it shrinks.
"""

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

import msgspec
from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from application.deadlines import Deadline
from application.errors import ServiceUnavailable
from entrypoints.metrics import payment_errors_total, requests_shed_total

SHED = "the service is at capacity; nothing was done. Retry shortly"
LATE = "the request did not finish in time; retry with the same Idempotency-Key for its outcome"
ADMISSION_STATE_KEY = "admission"  # where the app's state holds its worker's Admission
ADMITTED_ROUTES = {"/api/payments/process": "process", "/api/payments/refund": "refund"}
# A shed request's Retry-After, in whole seconds, drawn evenly from this range. Clients refused
# in the same instant (a storm of new ones, a wave) would otherwise all come back one second
# later, together, into a worker that is still full, and be refused together again: each such
# wave delays every refusal in it and the worker's other answers. Spread, they come back in
# smaller waves, and fewer of them each second.
SHED_RETRY_AFTER = (1, 3)
# However late the loop runs, this many in flight are admitted (a lone request during a pause).
LAG_FLOOR = 8


class Admission:
    """Per worker (one event loop): how many charges and refunds run, and for how long.

    `limit` bounds what is in flight. With `max_lag` (seconds), the bound also follows the
    worker's pace: the loop's lag is sampled every 10 ms (`watch`). When LATE_SAMPLES samples in
    a row are later than `max_lag`, the loop has more work queued than it can run in time: the
    bound drops to a fifth below what is in flight now (not below `LAG_FLOOR`), at most once
    per `COOLDOWN`, so that nothing more is admitted until the queue has shrunk. Every sample
    on time (half of `max_lag` or less) raises the bound by one again, up to `limit`. A late
    sample or two (a collection pause, the process waiting for a CPU) move nothing. While the
    worker lets every request in (none refused within REFUSING_SAMPLES samples), its late
    samples must also span LATE_SPELL_ALL_LET_IN: a pause the machine takes (a collection, a
    wait for a core) lasts tens of milliseconds, and cutting on it would refuse clients the
    worker has room for (at 128 clients, two samples in a row late, 40-70 ms, a few times a
    run); a worker kept late by its own charges stays late.

    Admitted charges also start at a pace: STARTS_BURST at once, then STARTS_PER_SECOND, let
    start at each sample by the time since the one before (a late loop is not slowed more);
    the rest of a burst waits, admitted (its slot held, its deadline running, nothing stored
    or sent yet). One let in by `serve`'s door takes its turn before the framework's work
    (`start_turn`), its deadline counted from its arrival. A storm of new clients thus cannot
    start more charges in one pass of the loop than a few milliseconds of work, while the lag
    shows whether to admit more: a worker past its capacity admits what it can carry, and
    refusals and liveness probes are still answered promptly.
    """

    INTERVAL = 0.01
    STARTS_PER_SECOND = 800  # more than a worker's core carries: the lag bounds the rest
    STARTS_PER_SAMPLE = int(STARTS_PER_SECOND * INTERVAL)
    STARTS_BURST = 16
    MOST_WAITING = 64
    LATE_SAMPLES = 3
    LATE_SPELL_ALL_LET_IN = 0.25  # seconds late in a row before a worker refusing none cuts
    REFUSING_SAMPLES = 10  # a refusal within this many samples: it is turning clients away
    COOLDOWN = 0.05  # seconds between two decreases: what a decrease stopped shows first
    DECREASE = 0.8

    def __init__(
        self,
        limit: int,
        timeout: float,
        *,
        max_lag: float | None = None,
    ) -> None:
        self.limit = limit
        self.timeout = timeout
        self.max_lag = max_lag
        self.floor = min(limit, LAG_FLOOR)
        self.allowed = float(limit)  # between `floor` and `limit`
        self.in_flight = 0
        self._late_in_a_row = 0
        self._late_since = 0.0  # the first late sample of this spell
        self._samples_since_refusal = self.REFUSING_SAMPLES + 1
        self._decreased_at = float("-inf")
        self._starts = float(self.STARTS_BURST)  # starts allowed now, without waiting
        self._sampled_at: float | None = None
        self._turns: deque[asyncio.Future[None]] = deque()  # given-up ones stay until popped
        self.waiting = 0  # admitted, waiting to start
        self.entering = 0  # let in by the door (`enter`), not yet admitted or refused
        self.entering_started = 0  # of those, the ones that had their turn at the gate

    @property
    def bound(self) -> int:
        """How many may be in flight now."""
        return int(self.allowed)

    @property
    def full(self) -> bool:
        """No room: the bound is reached, or as many wait to start as start in MOST_WAITING /
        STARTS_PER_SAMPLE samples (80 ms): one more would wait longer than answering it now.
        The requests let in by the door (`entering`) count as already admitted."""
        entering = self.entering  # let in by the door: they take room before they arrive
        if self.in_flight + entering >= self.bound:
            return True
        if self.max_lag is None:  # not paced: nothing waits to start
            return False
        # Those let in and not yet started take the starts free now first; the rest will wait.
        would_wait = self.waiting + max(0, entering - self.entering_started - int(self._starts))
        return would_wait >= self.MOST_WAITING

    def turns_away(self) -> bool:
        """`full`, asked to decide one request: True refuses it, which is noted (a short late
        spell cuts the bound only while the worker is turning requests away)."""
        if self.full:
            self._samples_since_refusal = 0
            return True
        return False

    def enter(self) -> "Entry":
        """A bounded request let in by the door: counted as if admitted until `admitted`
        decides on it (or it ends first)."""
        return Entry(self)

    def pace(self, late: float, now: float) -> None:
        """One sample of the loop's lag, taken at `now` (seconds): the bound follows."""
        if self.max_lag is None:
            return
        since = self.INTERVAL if self._sampled_at is None else max(now - self._sampled_at, 0.0)
        self._sampled_at = now
        self._let_start(since * self.STARTS_PER_SECOND)
        if late > self.max_lag:
            if not self._late_in_a_row:
                self._late_since = now  # a single long pause counts once, not as a spell
            self._late_in_a_row += 1
        else:
            self._late_in_a_row = 0
        self._samples_since_refusal += 1
        refusing = self._samples_since_refusal <= self.REFUSING_SAMPLES
        spell = now - self._late_since
        if self._late_in_a_row >= self.LATE_SAMPLES and (
            refusing or spell >= self.LATE_SPELL_ALL_LET_IN
        ):
            if now - self._decreased_at >= self.COOLDOWN:
                self._decreased_at = now
                running = min(self.allowed, float(self.in_flight))
                self.allowed = max(float(self.floor), running * self.DECREASE)
        elif late <= self.max_lag / 2:
            self.allowed = min(float(self.limit), self.allowed + 1)

    def _let_start(self, count: float) -> None:
        self._starts = min(float(self.STARTS_BURST), self._starts + count)
        while self._turns and self._starts >= 1:
            turn = self._turns.popleft()
            if not turn.done():  # not given up (its deadline, its client gone)
                self._starts -= 1
                turn.set_result(None)

    async def _start_turn(self, entry: "Entry | None" = None) -> None:
        """Until this charge may start: at once within the burst, else at a later sample.
        Paced only while the lag is watched (the samples let the waiting ones start). One the
        door let in (`entry`) waits among `entering`, not `waiting`, and its turn is kept on
        its entry, given up if the entry is released meanwhile."""
        if self.max_lag is None:
            return
        if self._starts >= 1 and not self._turns:
            self._starts -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._turns.append(turn)
        if entry is None:
            self.waiting += 1
        else:
            entry.turn = turn
        try:
            await turn
        finally:
            if entry is None:
                self.waiting -= 1
            else:
                entry.turn = None

    async def start_turn(self, entry: "Entry") -> bool:
        """A request the door let in waits here for its turn to start, before the framework's
        work (its middleware, its body read: about 0.7 ms of a charge's loop time), so that
        a wave let in in one pass starts a burst, then a few each sample, and the passes in
        between stay short for the refusals and probes that arrive meanwhile. Its turn is
        then taken: `admitted` does not make it wait again. False: its client left while it
        waited (its turn given up, nothing to answer)."""
        if not entry.held or entry.started:
            return True
        try:
            # At its deadline it waits no more: `admitted` answers it late, unstarted.
            async with asyncio.timeout(self._deadline_of(entry).remaining()):
                await self._start_turn(entry)
        except TimeoutError:
            pass
        if not entry.held:  # its client left while it waited: its turn given up
            return False
        entry.started = True
        self.entering_started += 1
        return True

    def _deadline_of(self, entry: "Entry") -> Deadline:
        """One the door let in counts its deadline from its arrival, its wait to start
        included."""
        return Deadline(entry.since + self.timeout)

    async def watch(self) -> None:
        """Sample the loop's lag for as long as the worker serves (not at all without a bound)."""
        if self.max_lag is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.INTERVAL
            await asyncio.sleep(self.INTERVAL)
            now = loop.time()
            self.pace(now - due, now)

    @asynccontextmanager
    async def admitted(self, route: str) -> AsyncIterator[Deadline]:
        """Run one charge or refund within the bound and its deadline, or refuse it now.

        A request the door let in (its `Entry` still held) was counted against the room when
        it arrived and is admitted: deciding it again here, after the framework's work and
        whatever started meanwhile, would turn it away late and slowly. Any other request
        (pipelined, another ASGI server) is decided here."""
        entry = ENTRY.get()
        let_in = entry is not None and entry.held
        if entry is not None:
            entry.release()
        if not let_in and self.turns_away():
            requests_shed_total.labels(route=route).inc()
            raise ServiceUnavailable(SHED, retry_after=shed_retry_after())
        self.in_flight += 1
        if entry is not None:
            deadline, started = self._deadline_of(entry), entry.started
        else:
            deadline, started = Deadline.after(self.timeout), False
        try:
            async with asyncio.timeout(deadline.remaining()) as window:
                if not started:
                    await self._start_turn()
                if deadline.expired:  # its wait to start took it all: not started
                    raise ServiceUnavailable(LATE, retry_after=1)
                yield deadline
        except TimeoutError:
            if not window.expired():
                raise
            raise ServiceUnavailable(LATE, retry_after=1) from None
        finally:
            self.in_flight -= 1


class Entry:
    """One request on its way from the door to `Admission.admitted`; released once."""

    __slots__ = ("_admission", "since", "started", "turn")

    def __init__(self, admission: Admission) -> None:
        self._admission: Admission | None = admission
        self.since = time.monotonic()  # its arrival, on Deadline's clock
        self.started = False  # has had its turn to start (`Admission.start_turn`)
        self.turn: asyncio.Future[None] | None = None  # while it waits at the gate
        admission.entering += 1

    @property
    def held(self) -> bool:
        """Still counted: not yet decided on, and its connection not lost."""
        return self._admission is not None

    def release(self) -> None:
        if self._admission is not None:
            self._admission.entering -= 1
            self._admission.entering_started -= self.started
            self._admission = None
            if self.turn is not None and not self.turn.done():
                self.turn.set_result(None)  # given up: `_let_start` skips it


# The entry of the request a task serves, set by the door when it starts the request's task.
ENTRY: ContextVar[Entry | None] = ContextVar("admission_entry", default=None)


# The answer to a charge or refund refused at capacity, whichever layer refuses it.
REFUSAL_BODY = msgspec.json.encode(
    {"success": False, "error": {"code": "SERVICE_UNAVAILABLE", "message": SHED}}
)
_REFUSAL_HEADERS = {
    seconds: [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(REFUSAL_BODY)).encode()),
        (b"retry-after", str(seconds).encode()),
    ]
    for seconds in range(SHED_RETRY_AFTER[0], SHED_RETRY_AFTER[1] + 1)
}


def shed_retry_after() -> int:
    """The Retry-After of one refusal at capacity: seconds drawn from SHED_RETRY_AFTER."""
    return random.randint(*SHED_RETRY_AFTER)


def refusal_headers() -> list[tuple[bytes, bytes]]:
    """The headers of one refusal at capacity, answered without the framework."""
    return _REFUSAL_HEADERS[shed_retry_after()]


def bounded_route(method: str, path: str) -> str | None:
    """The admitted route (`process`, `refund`) a request is for, or None."""
    return ADMITTED_ROUTES.get(path.rstrip("/")) if method == "POST" else None


def count_refusal(route: str) -> None:
    requests_shed_total.labels(route=route).inc()
    payment_errors_total.labels(code="SERVICE_UNAVAILABLE").inc()


def shed_when_full(admission: Admission) -> Callable[[AppConfig], AppConfig]:
    """on_app_init hook for the outermost middleware: at capacity, a charge or refund is
    refused before it is authenticated or its body read, so that refusing stays cheap under a
    flood. `serve` refuses earlier still, as the request arrives (`serving_protocol`); this
    covers the rest (a pipelined request, another ASGI server). The handler's own check
    (`admitted`) remains the bound. A request `serve` let in waits here for its turn to start
    (`Admission.start_turn`), before the rest of the framework's work."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def shed_or_pass(scope: Scope, receive: Receive, send: Send) -> None:
            entry = ENTRY.get()
            if entry is not None:  # let in by the door (`serve`): counted there, started
                if await admission.start_turn(entry):  # at the pace, admitted by the handler
                    await app(scope, receive, send)
                return
            route = (
                bounded_route(scope["method"], scope["path"])
                if scope["type"] == ScopeType.HTTP
                else None
            )
            if route is None or not admission.turns_away():
                await app(scope, receive, send)
                return
            count_refusal(route)
            await send({"type": "http.response.start", "status": 503, "headers": refusal_headers()})
            await send({"type": "http.response.body", "body": REFUSAL_BODY, "more_body": False})

        return shed_or_pass

    def install(app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, middleware)
        return app_config

    return install

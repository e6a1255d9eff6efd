"""`serve`'s HTTP protocol: at capacity, a charge or refund is answered from the read that
brought it, without the application; everything else goes to the application as before."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from litestar import Litestar, get, post
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, Scope, Send
from uvicorn.server import ServerState

from entrypoints.http.admission import ADMISSION_STATE_KEY, Admission, shed_when_full
from entrypoints.http.serving_protocol import AdmittingHttpToolsProtocol, admission_of

CHARGE_HEAD = (
    b"POST /api/payments/process HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
)


class Transport(asyncio.Transport):
    """What the protocol wrote, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def answers(self) -> list[tuple[int, dict[str, str], bytes]]:
        """Each response written: status, headers, body (all have a content-length)."""
        found, rest = [], bytes(self.written)
        while rest:
            head, _, rest = rest.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:])
            length = int(headers["content-length"])
            found.append((int(lines[0].split()[1]), headers, rest[:length]))
            rest = rest[length:]
        return found


@pytest.fixture
def admission() -> Admission:
    return Admission(1, 10.0)


@pytest.fixture
def reached() -> list[str]:
    return []


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def entered() -> list[int]:
    """One item each time the charge's handler is entered: the framework's work is done."""
    return []


@pytest.fixture
def framework() -> list[str]:
    """The path of each request the framework took on (its middleware, below the door's)."""
    return []


@pytest.fixture
def connect(
    admission: Admission,
    reached: list[str],
    entered: list[int],
    framework: list[str],
    loop: asyncio.AbstractEventLoop,
) -> Iterator[Any]:
    @post("/api/payments/process", status_code=201)
    async def charge(data: dict[str, Any]) -> dict[str, str]:
        entered.append(1)
        if data.get("amount", 0) <= 0:  # refused before admission, as a bad input is
            raise HTTPException(status_code=400, detail="bad amount")
        async with admission.admitted("process"):  # as the service's handlers are
            reached.append("charge")
            await asyncio.sleep(0.01)  # its Stripe call
        return {"status": "succeeded"}

    @get("/health/live")
    async def live() -> dict[str, str]:
        reached.append("live")
        return {"status": "ok"}

    def observed(app: ASGIApp) -> ASGIApp:
        async def note(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP:
                framework.append(scope["path"])
            await app(scope, receive, send)

        return note

    app = Litestar(  # as the service's app: the middleware refuses what the protocol cannot
        [charge, live],
        state=State({ADMISSION_STATE_KEY: admission}),
        on_app_init=[shed_when_full(admission)],
        middleware=[observed],
    )
    config = uvicorn.Config(app, log_level="warning", proxy_headers=True)
    connections: list[AdmittingHttpToolsProtocol] = []

    def open_connection() -> tuple[AdmittingHttpToolsProtocol, Transport]:
        protocol = AdmittingHttpToolsProtocol(config, ServerState(), {}, _loop=loop)
        transport = Transport()
        protocol.connection_made(transport)
        connections.append(protocol)
        return protocol, transport

    yield open_connection
    for protocol in connections:
        protocol.connection_lost(None)


def settle(loop: asyncio.AbstractEventLoop) -> None:
    """Let the application's tasks run to their answers."""
    loop.run_until_complete(asyncio.sleep(0.05))


def charge(body: bytes = b'{"amount": 100}', *extra: bytes) -> bytes:
    head = CHARGE_HEAD + b"".join(extra) + b"content-length: %d\r\n\r\n" % len(body)
    return head + body


def test_the_admission_is_found_under_uvicorns_wrappers(admission: Admission) -> None:
    app = Litestar([], state=State({ADMISSION_STATE_KEY: admission}))
    config = uvicorn.Config(app, proxy_headers=True)
    config.load()
    assert config.loaded_app is not app, "uvicorn wrapped it"
    assert admission_of(config.loaded_app) is admission
    assert admission_of(Litestar([])) is None


def test_at_capacity_a_charge_is_answered_on_arrival_and_the_connection_goes_on(
    connect: Any, admission: Admission, reached: list[str], loop: asyncio.AbstractEventLoop
) -> None:
    protocol, transport = connect()
    admission.in_flight = 1
    body = b'{"amount": 100, "pad": "' + b"x" * 5000 + b'"}'
    request = charge(body)
    protocol.data_received(request[:200])  # the headers and the body's first bytes
    [(status, headers, answer)] = transport.answers()
    assert status == 503
    assert headers["retry-after"] in {"1", "2", "3"}
    assert headers["content-type"] == "application/json"
    assert "connection" not in headers, "kept alive"
    assert json.loads(answer)["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert transport.written.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")

    protocol.data_received(request[200:])  # the rest of the body is read and dropped
    admission.in_flight = 0
    protocol.data_received(charge())
    protocol.data_received(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    settle(loop)
    assert reached == ["charge", "live"], "only what was not refused reached the application"
    assert [status for status, _, _ in transport.answers()] == [503, 201, 200]
    assert not transport.closed


def test_below_capacity_and_on_other_routes_the_application_answers(
    connect: Any, admission: Admission, reached: list[str], loop: asyncio.AbstractEventLoop
) -> None:
    protocol, transport = connect()
    protocol.data_received(charge())
    settle(loop)
    admission.in_flight = 1
    protocol.data_received(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    settle(loop)
    assert reached == ["charge", "live"]
    assert [status for status, _, _ in transport.answers()] == [201, 200]


@pytest.mark.parametrize(
    "request_line",
    [
        b"POST /api/payments/refund HTTP/1.1",
        b"POST /api/payments/process/ HTTP/1.1",
        b"POST /api/payments/proce%73s HTTP/1.1",
        b"POST /api/payments/process?x=1 HTTP/1.1",
    ],
    ids=["refund", "trailing-slash", "percent-encoded", "query"],
)
def test_every_spelling_of_a_bounded_route_is_refused_at_the_door(
    connect: Any, admission: Admission, reached: list[str], request_line: bytes
) -> None:
    protocol, transport = connect()
    admission.in_flight = 1
    protocol.data_received(charge().replace(CHARGE_HEAD.split(b"\r\n")[0], request_line, 1))
    [(status, _, answer)] = transport.answers()  # answered on arrival: nothing was run
    assert status == 503
    assert json.loads(answer)["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert reached == []


def test_other_methods_and_routes_are_left_to_the_application(
    connect: Any, admission: Admission, loop: asyncio.AbstractEventLoop
) -> None:
    protocol, transport = connect()
    admission.in_flight = 1
    protocol.data_received(b"GET /api/payments/process HTTP/1.1\r\nHost: x\r\n\r\n")
    protocol.data_received(charge().replace(b"/process", b"/processes", 1))
    assert transport.answers() == [], "not answered on arrival"
    settle(loop)
    assert [status for status, _, _ in transport.answers()] == [405, 404]


@pytest.mark.parametrize(
    "request_bytes",
    [
        charge(b"{}", b"expect: 100-continue\r\n"),
        charge(b"{}").replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        charge(b"{}", b"connection: close\r\n"),
    ],
    ids=["expect-100-continue", "http-1.0", "connection-close"],
)
def test_a_refusal_closes_a_connection_that_cannot_be_reused(
    connect: Any, admission: Admission, reached: list[str], request_bytes: bytes
) -> None:
    protocol, transport = connect()
    admission.in_flight = 1
    protocol.data_received(request_bytes)
    [(status, headers, _)] = transport.answers()
    assert status == 503
    assert headers["connection"] == "close"
    assert transport.closed
    assert reached == []


def test_a_request_pipelined_behind_a_running_one_waits_its_turn(
    connect: Any, admission: Admission, reached: list[str], loop: asyncio.AbstractEventLoop
) -> None:
    protocol, transport = connect()
    live = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    admission.in_flight = 1
    protocol.data_received(live + charge())  # both in one read: the charge is pipelined
    settle(loop)
    statuses = [status for status, _, _ in transport.answers()]
    assert statuses == [200, 503], "answered in order: the application's middleware refused it"
    assert reached == ["live"]


def test_the_header_cap_still_holds(connect: Any, reached: list[str]) -> None:
    protocol, transport = connect()
    protocol.data_received(CHARGE_HEAD + b"x-filler: " + b"a" * 70_000)
    assert transport.written.startswith(b"HTTP/1.1 431 ")
    assert transport.closed
    assert reached == []


def room_for(admission: Admission, limit: int, max_lag: float | None = None) -> None:
    admission.limit, admission.allowed, admission.max_lag = limit, float(limit), max_lag


def test_one_read_of_many_charges_lets_in_only_what_there_is_room_for(
    connect: Any, admission: Admission, loop: asyncio.AbstractEventLoop, reached: list[str]
) -> None:
    """Before any of them has run, the door counts those it let in: the rest are refused
    there, not in the handler after the framework's work."""
    room_for(admission, 3)
    opened = [connect() for _ in range(5)]
    for protocol, _ in opened:
        protocol.data_received(charge())  # all in the same pass of the loop
    assert [len(transport.answers()) for _, transport in opened] == [0, 0, 0, 1, 1]
    assert admission.entering == 3 and admission.in_flight == 0
    settle(loop)
    assert [[status for status, _, _ in transport.answers()] for _, transport in opened] == [
        [201], [201], [201], [503], [503]
    ]  # fmt: skip
    assert reached == ["charge"] * 3
    assert admission.entering == admission.in_flight == 0


def wave(connect: Any, admission: Admission) -> tuple[list[Any], int]:
    """A hundred new clients' charges read in the same pass by a paced worker with room for
    250: the door lets in what can start or wait. The connections, and how many it let in."""
    room_for(admission, 250, max_lag=0.02)
    opened = [connect() for _ in range(100)]
    for protocol, _ in opened:
        protocol.data_received(charge())
    let_in = Admission.STARTS_BURST + Admission.MOST_WAITING
    assert admission.entering == let_in
    return opened, let_in


def test_a_wave_lets_in_what_can_start_or_wait_and_refuses_the_rest_on_arrival(
    connect: Any, admission: Admission, loop: asyncio.AbstractEventLoop
) -> None:
    opened, let_in = wave(connect, admission)
    refused = [transport for _, transport in opened if transport.answers()]
    assert len(refused) == 100 - let_in
    assert all(transport.answers()[0][0] == 503 for transport in refused)
    for sample in range(8):  # the lag samples let the waiting ones start, as `watch` does
        settle(loop)
        admission.pace(0.0, sample * 0.1)
    settle(loop)
    statuses = [transport.answers()[0][0] for _, transport in opened]
    assert statuses.count(201) == let_in


def test_a_wave_let_in_runs_the_framework_a_few_at_a_time_at_the_pace_of_starts(
    connect: Any, admission: Admission, loop: asyncio.AbstractEventLoop, entered: list[int]
) -> None:
    """A pass of the loop starts no more of those let in than the burst of starts: the rest
    wait, before the framework's work (about 0.7 ms each), so that the worker's next pass
    (its refusals, its probes) does not wait behind all of them."""
    opened, let_in = wave(connect, admission)
    settle(loop)  # no lag sample came: only the burst has started
    assert len(entered) == Admission.STARTS_BURST
    assert admission.in_flight == 0, "the burst answered; the rest wait, nothing taken yet"
    admission.pace(0.0, 1.0)  # a sample: a few more start
    settle(loop)
    assert len(entered) == Admission.STARTS_BURST + Admission.STARTS_PER_SAMPLE
    for sample in range(1, 9):
        admission.pace(0.0, 1.0 + sample * 0.01)
        settle(loop)
    assert len(entered) == let_in
    statuses = [transport.answers()[0][0] for _, transport in opened]
    assert statuses.count(201) == let_in, "each started once, none waited twice"
    assert admission.entering == admission.in_flight == admission.waiting == 0


def test_a_client_that_leaves_while_its_charge_waits_to_start_is_never_run(
    connect: Any,
    admission: Admission,
    loop: asyncio.AbstractEventLoop,
    entered: list[int],
    framework: list[str],
) -> None:
    """Its charge is not run for nobody: the framework's work is skipped, nothing reaches
    the handler (nothing stored, nothing sent to Stripe), and its start goes to the next."""
    opened, let_in = wave(connect, admission)
    settle(loop)  # the burst ran; the rest wait at the gate
    assert len(entered) == len(framework) == Admission.STARTS_BURST
    gone, gone_transport = opened[Admission.STARTS_BURST]  # the first one waiting
    gone.connection_lost(None)
    for sample in range(1, 12):
        admission.pace(0.0, 1.0 + sample * 0.01)
        settle(loop)
    assert len(framework) == let_in - 1, "the framework never took the one gone on"
    assert len(entered) == let_in - 1, "every other one ran, the one gone did not"
    assert gone_transport.answers() == []
    statuses = [transport.answers()[0][0] for _, transport in opened if transport.answers()]
    assert statuses.count(201) == let_in - 1
    assert admission.entering == admission.in_flight == admission.waiting == 0


def test_a_charge_let_in_but_never_admitted_gives_its_room_back(
    connect: Any, admission: Admission, loop: asyncio.AbstractEventLoop
) -> None:
    protocol, transport = connect()
    protocol.data_received(charge(b'{"amount": -1}'))
    assert admission.entering == 1
    assert admission.full, "its room is taken until it is decided"
    settle(loop)
    assert [status for status, _, _ in transport.answers()] == [400]
    assert admission.entering == 0 and not admission.full

    gone, _ = connect()
    gone.data_received(charge())
    assert admission.entering == 1
    gone.connection_lost(None)  # the client left before its request ran
    assert admission.entering == 0
    settle(loop)  # its task ends on the lost connection


def test_a_charge_pipelined_behind_one_let_in_is_decided_by_the_middleware(
    connect: Any, admission: Admission, loop: asyncio.AbstractEventLoop, reached: list[str]
) -> None:
    """The pipelined charge's task is started from the task of the one before it: it must not
    carry that one's entry past the middleware's check."""
    room_for(admission, 1)
    protocol, transport = connect()
    protocol.data_received(charge() + charge())
    loop.run_until_complete(asyncio.sleep(0.002))  # the first is admitted, in its Stripe call
    assert admission.in_flight == 1
    admission.in_flight += 1  # another charge of the worker's takes the room meanwhile
    settle(loop)
    assert [status for status, _, _ in transport.answers()] == [201, 503]
    assert reached == ["charge"]
    admission.in_flight -= 1


def test_clients_refused_together_are_asked_to_come_back_over_one_to_three_seconds(
    connect: Any, admission: Admission, loop: asyncio.AbstractEventLoop
) -> None:
    """Refused in the same instant and all asked for one second, a storm's clients would come
    back as one wave into a worker still full; each refusal draws its own Retry-After."""
    live = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    admission.in_flight = 1
    at_the_door, _ = connect()
    behind_another, _ = connect()
    for _ in range(100):
        at_the_door.data_received(charge())  # refused on arrival
        behind_another.data_received(live + charge())  # pipelined: refused by the middleware
    settle(loop)
    for protocol in (at_the_door, behind_another):
        answers = protocol.transport.answers()
        refusals = [headers for status, headers, _ in answers if status == 503]
        assert len(refusals) == 100
        assert {headers["retry-after"] for headers in refusals} == {"1", "2", "3"}

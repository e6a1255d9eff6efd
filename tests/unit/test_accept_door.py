"""`serve`'s accept door: a connection's first charge or refund, there whole when the
connection is accepted, is decided in that pass of the loop: refused at capacity (the
connection then goes on), or let in with its room held until the handler admits it."""

import asyncio
import contextvars
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import uvicorn
from litestar import Litestar, post
from litestar.datastructures import State
from uvicorn.server import ServerState

from entrypoints.greedy_accept import GreedyAcceptLoop
from entrypoints.http.admission import ADMISSION_STATE_KEY, Admission, shed_when_full
from entrypoints.http.serving_protocol import (
    ACCEPTED_ENTRY,
    AcceptDoor,
    AdmittingHttpToolsProtocol,
)
from tests.unit.test_serving_protocol import Transport


def charge(
    body: bytes = b'{"amount": 100}', *extra: bytes, path: bytes = b"/api/payments/process"
) -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n" % path
    return head + b"".join(extra) + b"content-length: %d\r\n\r\n" % len(body) + body


@pytest.fixture
def admission() -> Admission:
    return Admission(1, 10.0)


@pytest.fixture
def door(admission: Admission) -> AcceptDoor:
    state = ServerState()
    state.default_headers = [(b"date", b"Sat, 05 Dec 2026 20:00:00 GMT")]
    return AcceptDoor(admission, state, "")


@pytest.fixture
def accepted() -> Iterator[Any]:
    """A client socket and the server's side of its connection, as `accept` gives it."""
    opened: list[socket.socket] = []

    def make(sent: bytes) -> tuple[socket.socket, socket.socket]:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            client = socket.create_connection(listener.getsockname())
            client.sendall(sent)
            conn, _ = listener.accept()
        conn.setblocking(False)
        client.settimeout(5)
        opened.extend((client, conn))
        _arrived(conn, len(sent))
        return client, conn

    yield make
    for sock in opened:
        sock.close()


def _arrived(conn: socket.socket, size: int) -> None:
    """Until the kernel holds what the client sent (on loopback, at once or almost)."""
    for _ in range(1000):
        if len(unread(conn)) >= size:
            return
        time.sleep(0.001)
    raise AssertionError("the client's bytes never arrived")


def unread(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536, socket.MSG_PEEK)
    except BlockingIOError:
        return b""


def answer(client: socket.socket) -> tuple[int, dict[str, str], bytes]:
    head, _, body = client.recv(65536).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    "path",
    [
        b"/api/payments/process",
        b"/api/payments/refund",
        b"/api/payments/process/",
        b"/api/payments/proce%73s",
        b"/api/payments/refund?x=1",
    ],
    ids=["charge", "refund", "trailing-slash", "percent-encoded", "query"],
)
def test_at_capacity_a_first_charge_that_arrived_whole_is_refused_as_it_is_accepted(
    door: AcceptDoor, admission: Admission, accepted: Any, path: bytes
) -> None:
    admission.in_flight = 1
    next_request = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    request = charge(path=path)
    client, conn = accepted(request + next_request)
    context = door.admit(conn)
    assert context is not None, "the connection goes on"
    assert context.get(ACCEPTED_ENTRY) is None, "nothing let in"
    status, headers, body = answer(client)
    assert status == 503
    assert headers["retry-after"] in {"1", "2", "3"}
    assert headers["date"] == "sat, 05 dec 2026 20:00:00 gmt", "the server's own headers"
    assert "connection" not in headers, "kept alive"
    assert json.loads(body)["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert unread(conn) == next_request, "the charge was read, and only the charge"
    assert admission.entering == 0 and admission.in_flight == 1


def test_below_capacity_a_first_charge_is_let_in_with_its_room_held(
    door: AcceptDoor, admission: Admission, accepted: Any
) -> None:
    client, conn = accepted(charge())
    context = door.admit(conn)
    assert context is not None
    entry = context.get(ACCEPTED_ENTRY)
    assert entry is not None and entry.held
    assert admission.entering == 1 and admission.full, "its room is taken from now on"
    assert unread(conn) == charge(), "left for the protocol to read"
    client.settimeout(0.05)
    with pytest.raises(TimeoutError):
        client.recv(1)  # nothing answered yet

    door.abandon(context)  # its connection could not be opened
    assert admission.entering == 0 and not admission.full


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        charge()[:-3],
        b"GET /api/payments/process HTTP/1.1\r\nHost: x\r\n\r\n",
        charge(path=b"/api/payments"),
        charge(b"{}", b"connection: close\r\n"),
        charge(b"{}").replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        charge(b"{}", b"expect: 100-continue\r\n"),
        b"POST /api/payments/process HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        b"POST /api/payments/process HTTP/1.1\r\nHost: x\r\ncontent-length: x\r\n\r\n{}",
        b"POST /api/payments/process HTTP/9\r\n\r\n",
    ],
    ids=[
        "nothing-yet",
        "body-not-all-there",
        "get",
        "other-route",
        "connection-close",
        "http-1.0",
        "expect-100-continue",
        "chunked",
        "bad-length",
        "malformed",
    ],
)
@pytest.mark.parametrize("full", [True, False], ids=["full", "room"])
def test_what_the_door_cannot_decide_whole_is_left_to_the_protocol_untouched(
    door: AcceptDoor, admission: Admission, accepted: Any, sent: bytes, full: bool
) -> None:
    admission.in_flight = int(full)
    client, conn = accepted(sent)
    context = door.admit(conn)
    assert context is not None and context.get(ACCEPTED_ENTRY) is None
    assert unread(conn) == sent
    assert admission.entering == 0
    client.settimeout(0.05)
    with pytest.raises(TimeoutError):
        client.recv(1)


def test_a_client_gone_before_its_refusal_is_closed_and_not_opened(
    door: AcceptDoor, admission: Admission, accepted: Any
) -> None:
    admission.in_flight = 1
    client, conn = accepted(charge())
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # reset: the refusal cannot be sent
    time.sleep(0.01)
    assert door.admit(conn) is None
    assert conn.fileno() == -1, "closed"


@pytest.fixture
def served(admission: Admission) -> Iterator[Any]:
    """`serve`'s stack in this process: the greedy loop, uvicorn, the door's protocol, and an
    app whose charge handler is admitted as the service's are; `reached` lists what ran."""
    reached: list[str] = []

    @post("/api/payments/process", status_code=201)
    async def process(data: dict[str, Any]) -> dict[str, str]:
        async with admission.admitted("process"):
            reached.append(f"charge {data['amount']}")
        return {"status": "succeeded"}

    app = Litestar(
        [process],
        state=State({ADMISSION_STATE_KEY: admission}),
        on_app_init=[shed_when_full(admission)],
    )
    config = uvicorn.Config(
        app,
        http=AdmittingHttpToolsProtocol,
        lifespan="off",
        log_level="warning",
        timeout_keep_alive=1,
    )
    config.load()
    loop = GreedyAcceptLoop()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)  # as `serve` sets it up
    sock = socket.create_server(("127.0.0.1", 0))
    loop.run_until_complete(server.startup(sockets=[sock]))
    yield loop, sock.getsockname()[1], reached
    loop.run_until_complete(server.shutdown())
    sock.close()
    loop.close()


def refused_at_the_door(
    served: Any, admission: Admission, *, sent_after_the_accept: bool = False
) -> socket.socket:
    """A client whose first charge was refused at capacity, by the door: there whole when the
    connection was accepted, or sent once it had been (the connection watched till then)."""
    loop, port, _ = served
    admission.in_flight = 1
    client = socket.create_connection(("127.0.0.1", port))
    client.settimeout(5)
    if sent_after_the_accept:
        loop.run_until_complete(asyncio.sleep(0.05))  # accepted, nothing sent yet
    # Otherwise sent before the server's loop runs again.
    client.sendall(charge())
    loop.run_until_complete(asyncio.sleep(0.05))
    assert answers(client) == [503]
    return client


@pytest.mark.parametrize("sent_after_the_accept", [False, True], ids=["with", "after"])
def test_served_the_first_charge_refused_at_the_door_and_the_connection_serves_the_next(
    served: Any, admission: Admission, sent_after_the_accept: bool
) -> None:
    """The first charge refused, whether it came with the connection or after its accept."""
    loop, _, reached = served
    client = refused_at_the_door(served, admission, sent_after_the_accept=sent_after_the_accept)
    admission.in_flight = 0  # room again for the client's next charge
    client.sendall(charge(b'{"amount": 200}'))
    loop.run_until_complete(asyncio.sleep(0.05))
    assert answers(client) == [201]
    assert reached == ["charge 200"], "the refused charge was read and dropped, not run"
    assert admission.entering == 0 and admission.in_flight == 0
    client.close()


def test_a_connection_refused_at_the_door_and_left_idle_is_closed_after_the_keep_alive(
    served: Any, admission: Admission
) -> None:
    """As after any answer: the door's refusal arms the connection's keep-alive timer."""
    loop, _, _ = served
    client = refused_at_the_door(served, admission)
    loop.run_until_complete(asyncio.sleep(1.3))  # the keep-alive is 1 s here
    client.settimeout(1)
    assert client.recv(1) == b"", "closed by the server"
    client.close()


def test_a_door_that_fails_leaves_the_connection_to_be_opened_as_it_is() -> None:
    opened: list[asyncio.BaseTransport] = []

    class Door:
        def admit(self, conn: socket.socket) -> contextvars.Context | None:
            raise RuntimeError("a bug in the door")

        def abandon(self, context: contextvars.Context) -> None:
            raise AssertionError("nothing to undo")

    class Served(asyncio.Protocol):
        def accept_door(self) -> Door:
            return Door()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            opened.append(transport)

    async def steps(_: asyncio.AbstractServer, client: socket.socket) -> None:
        client.sendall(charge())
        for _ in range(100):
            if opened:
                break
            await asyncio.sleep(0.01)

    on_the_greedy_loop(Served, steps)
    assert len(opened) == 1


Steps = Callable[[asyncio.AbstractServer, socket.socket], Awaitable[None]]


def on_the_greedy_loop(protocol: Callable[[], asyncio.BaseProtocol], steps: Steps) -> None:
    """On `serve`'s loop: a server of `protocol` and a client connected to it; then
    `steps(server, client)`, awaited, and both closed."""

    async def scenario() -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        server = await asyncio.get_running_loop().create_server(protocol, sock=sock)
        client = socket.create_connection(sock.getsockname())
        client.settimeout(5)
        try:
            await steps(server, client)
        finally:
            client.close()
            server.close()
            sock.close()

    loop = GreedyAcceptLoop()
    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()


def answers(client: socket.socket) -> list[int]:
    """The statuses of every answer the client has been sent so far."""
    client.setblocking(False)
    received = b""
    try:
        while chunk := client.recv(65536):
            received += chunk
    except BlockingIOError:
        pass
    client.setblocking(True)
    statuses = []
    while received:
        head, _, received = received.partition(b"\r\n\r\n")
        statuses.append(int(head.split()[1]))
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        received = received[length:]
    return statuses


def test_a_charge_the_door_let_in_is_admitted_though_the_room_was_taken_meanwhile(
    admission: Admission,
) -> None:
    """Decided once: the protocol takes the door's entry over and the handler admits it, even
    if other charges took the room between the accept and the handler."""
    reached: list[str] = []

    @post("/api/payments/process", status_code=201)
    async def process(data: dict[str, Any]) -> dict[str, str]:
        async with admission.admitted("process"):
            reached.append("charge")
        return {"status": "succeeded"}

    app = Litestar([process], state=State({ADMISSION_STATE_KEY: admission}))
    config = uvicorn.Config(app, log_level="warning")
    config.load()
    loop = asyncio.new_event_loop()
    try:
        protocol = AdmittingHttpToolsProtocol(config, ServerState(), {}, _loop=loop)
        context = contextvars.copy_context()
        context.run(ACCEPTED_ENTRY.set, admission.enter())  # as the door lets it in

        transport = Transport()
        context.run(protocol.connection_made, transport)
        admission.in_flight = 5  # others took the room meanwhile: the bound is 1
        context.run(protocol.data_received, charge())
        loop.run_until_complete(asyncio.sleep(0.05))
        assert [status for status, _, _ in transport.answers()] == [201]
        assert reached == ["charge"]
        assert admission.entering == 0
        protocol.connection_lost(None)
    finally:
        loop.close()


class Watched:
    """A server on `serve`'s loop whose door lets every connection in, noting what it found
    there as it did, and whose protocol notes what it was given."""

    def __init__(self) -> None:
        self.shown: list[bytes] = []  # what the door found on each connection
        self.received: list[bytes] = []
        self.lost = 0
        watched = self

        class Door:
            def admit(self, conn: socket.socket) -> contextvars.Context | None:
                watched.shown.append(unread(conn))
                return contextvars.copy_context()

            def abandon(self, context: contextvars.Context) -> None:
                raise AssertionError("every connection opens")

        class Served(asyncio.Protocol):
            def accept_door(self) -> Door:
                return Door()

            def data_received(self, data: bytes) -> None:
                watched.received.append(data)

            def connection_lost(self, exc: Exception | None) -> None:
                watched.lost += 1

        self.protocol = Served

    def after_the_accept(self, steps: Steps) -> None:
        """On `serve`'s loop: the server, and a client it has accepted with nothing sent yet;
        then `steps(server, client)`, awaited."""

        async def accepted(server: asyncio.AbstractServer, client: socket.socket) -> None:
            await asyncio.sleep(0.05)  # accepted meanwhile
            await steps(server, client)

        on_the_greedy_loop(self.protocol, accepted)


@pytest.fixture
def watched() -> Watched:
    return Watched()


def test_a_connection_accepted_before_its_first_request_came_is_shown_to_the_door_with_it(
    watched: Watched,
) -> None:
    async def steps(_: asyncio.AbstractServer, client: socket.socket) -> None:
        assert watched.shown == [], "not shown to the door with nothing to decide on"
        client.sendall(charge())
        await asyncio.sleep(0.05)

    watched.after_the_accept(steps)
    assert watched.shown == [charge()], "shown once its request came"
    assert b"".join(watched.received) == charge(), "then opened, the request read there"


def test_a_connection_closed_before_it_sent_anything_is_opened_and_lost(watched: Watched) -> None:
    async def steps(_: asyncio.AbstractServer, client: socket.socket) -> None:
        client.close()
        await asyncio.sleep(0.05)

    watched.after_the_accept(steps)
    assert watched.shown == [b""] and watched.lost == 1


def test_a_server_closed_while_a_connection_had_sent_nothing_closes_it(watched: Watched) -> None:
    async def steps(server: asyncio.AbstractServer, client: socket.socket) -> None:
        server.close()
        await server.wait_closed()
        assert client.recv(1) == b"", "closed by the server"

    watched.after_the_accept(steps)
    assert watched.shown == []

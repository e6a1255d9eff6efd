"""The HTTP protocol `serve` runs: the door where charges and refunds are refused or let in.

A worker past its capacity has a queue of work on its event loop. A charge refused by a
middleware waits in that queue twice (its read, then its request's task) and costs the
framework's setup; under a flood of refusals that made each one wait for the others. Here a
charge or refund that arrives while its worker is full is answered from the read that
completed its headers: no task, no application code, its body read and dropped. The answer is
the same `503 SERVICE_UNAVAILABLE` the middleware gives (`admission.shed_when_full`), which still
covers what this cannot: a request pipelined behind one still running, another ASGI server.

A charge or refund let in holds an `Entry` until admission decides on it: one read can bring
hundreds of requests (clients refused together come back together), and each would otherwise
see the room as it was before any of them, then go through the framework only to be refused
late. Counted at the door, only as many as there is room for go in; the rest are refused
there, at a tenth of the cost. Those let in then start at the admission's pace: the outermost
middleware holds each until its turn, so that a wave let in in one pass does not run the
framework's work for all of them (about 0.7 ms each) in the next.

The door stands earlier still for a connection's first request: `accept_door` peeks at each
socket `serve` accepts (`greedy_accept`), in the pass that accepts it. A charge or refund that is
there whole is refused on the spot while the worker is full, its bytes read and the connection
then opened for the client's next request; or it is let in, its `Entry` held from that moment
and handed to the connection's protocol. Anything else (nothing arrived yet, a partial or
unusual request, another route) is opened as before and decided on its first read.
"""

import contextvars
import socket
import urllib.parse
from typing import Any

import httptools
from litestar import Litestar
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.server import ServerState

from entrypoints.http.admission import (
    ADMISSION_STATE_KEY,
    ENTRY,
    REFUSAL_BODY,
    Admission,
    Entry,
    bounded_route,
    count_refusal,
    refusal_headers,
)
from entrypoints.http.header_limits import BoundedHttpToolsProtocol

WRAPPERS = 8  # uvicorn's own wrappers around the app (proxy headers, message logger)
# What the accept door reads of a new connection, at most: a charge or refund is far smaller.
PEEK_BYTES = 8192
# The entry of a first request let in by the accept door, for the connection's protocol.
ACCEPTED_ENTRY: contextvars.ContextVar[Entry | None] = contextvars.ContextVar(
    "accepted_entry", default=None
)
# Whether the accept door answered the connection's first request (refused it).
ANSWERED_ON_ACCEPT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "answered_on_accept", default=False
)


def admission_of(app: Any) -> Admission | None:
    """The admission of the Litestar app that uvicorn serves, under uvicorn's wrappers."""
    for _ in range(WRAPPERS):
        if isinstance(app, Litestar):
            found = app.state.get(ADMISSION_STATE_KEY)
            return found if isinstance(found, Admission) else None
        app = getattr(app, "app", None)
    return None


class AdmittingHttpToolsProtocol(BoundedHttpToolsProtocol):
    """uvicorn's httptools protocol with the header cap, refusing at capacity on arrival."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._admission = admission_of(self.app)
        self._refusing = False  # the request being read was answered: its body is dropped
        self._entry: Entry | None = None  # the bounded request let in, until it is answered
        self._letting_in: Entry | None = None  # while its task is being started
        self._accepted: Entry | None = None  # the first request's, from the accept door

    def accept_door(self) -> "AcceptDoor | None":
        """The door for `greedy_accept`: this protocol's admission, headers and root path."""
        if self._admission is None:
            return None
        return AcceptDoor(self._admission, self.server_state, self.root_path)

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self._accepted = ACCEPTED_ENTRY.get()
        super().connection_made(transport)
        if ANSWERED_ON_ACCEPT.get():  # as after any answer: the keep-alive timer is armed
            self.on_response_complete()

    def on_headers_complete(self) -> None:
        route = self._bounded_route()
        accepted, self._accepted = self._accepted, None  # the first request's only
        if route is None:
            if accepted is not None:
                accepted.release()
            super().on_headers_complete()
            return
        assert self._admission is not None
        if accepted is None and self._admission.turns_away():
            self._in_headers = False
            self._refusing = True
            self._refuse(route)
            return
        # Counted until admission decides, so that one read of many requests lets in no more
        # than the worker has room for; the request's task carries its entry.
        self._release_entry()
        self._entry = self._letting_in = accepted or self._admission.enter()
        try:
            super().on_headers_complete()
        finally:
            self._letting_in = None

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # Each task started here carries its own request's entry, or none: a pipelined request
        # is started from the task of the one before it and would otherwise inherit its entry.
        token = ENTRY.set(self._letting_in)
        try:
            super()._start_asgi_task(cycle, app)
        finally:
            ENTRY.reset(token)

    def on_response_complete(self) -> None:
        self._release_entry()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._accepted is not None:
            self._accepted.release()
            self._accepted = None
        self._release_entry()
        super().connection_lost(exc)

    def _release_entry(self) -> None:
        if self._entry is not None:
            self._entry.release()
            self._entry = None

    def on_body(self, body: bytes) -> None:
        if not self._refusing:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refusing:
            super().on_message_complete()
            return
        self._refusing = False
        self._in_headers, self._header_bytes = True, 0

    def _bounded_route(self) -> str | None:
        """The bounded route of this request if the door decides on it: its worker has an
        admission, no request is still being answered on this connection, no upgrade."""
        if self._admission is None or self.parser.get_method() != b"POST":
            return None  # only charges and refunds are bounded
        if self.cycle is not None and not self.cycle.response_complete:
            return None  # pipelined: answers go in order, the middleware refuses it
        if self.parser.should_upgrade():
            return None
        return bounded_post(self.root_path, self.url)

    def _refuse(self, route: str) -> None:
        # With `Expect: 100-continue` the body will not come: the connection cannot be reused.
        keep_alive = (
            self.parser.get_http_version() != "1.0"
            and self.parser.should_keep_alive()
            and not self.expect_100_continue
        )
        self.transport.write(refusal(self.server_state.default_headers, keep_alive))
        count_refusal(route)
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()  # reading resumes; the keep-alive timer is armed


def bounded_post(root_path: str, url: bytes) -> str | None:
    """The bounded route (`process`, `refund`) a `POST` to `url` is for, in any spelling
    (trailing slash, percent-encoded, a query), or None. A URL that does not parse raises
    `httptools.HttpParserError`; one that parses is ASCII."""
    path = httptools.parse_url(url).path.decode("ascii")
    if "%" in path:
        path = urllib.parse.unquote(path)
    return bounded_route("POST", root_path + path)


def refusal(default_headers: list[tuple[bytes, bytes]], keep_alive: bool) -> bytes:
    """The whole `503` answer to a charge or refund refused at the door."""
    content = [STATUS_LINE[503]]
    for name, value in [*default_headers, *refusal_headers()]:
        content += [name, b": ", value, b"\r\n"]
    if not keep_alive:
        content.append(b"connection: close\r\n")
    content += [b"\r\n", REFUSAL_BODY]
    return b"".join(content)


class _Head:
    """httptools callbacks: what the accept door needs of a request's head."""

    __slots__ = ("complete", "length", "plain", "url")

    def __init__(self) -> None:
        self.url = b""
        self.length = 0
        self.plain = True  # no body framing or handshake the door leaves to the protocol
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length":
            self.length = int(value) if value.isdigit() else -1
        elif name in (b"transfer-encoding", b"expect", b"upgrade"):
            self.plain = False

    def on_headers_complete(self) -> None:
        self.complete = True


class AcceptDoor:
    """A connection's first request, decided in the pass of the loop that accepts it.

    Only a request that is there whole, a keep-alive `POST` to a bounded route with a
    content-length, is decided here: refused while the worker is full (the answer sent, the
    request's bytes read, the connection opened for the next one), or let in with its `Entry`,
    which the connection's protocol takes over (`ACCEPTED_ENTRY`). Every other connection is
    opened untouched, its first request decided by the protocol as it is read.
    """

    def __init__(self, admission: Admission, server_state: ServerState, root_path: str) -> None:
        self._admission = admission
        self._server_state = server_state  # its default headers (the date) change each second
        self._root_path = root_path

    def admit(self, conn: socket.socket) -> contextvars.Context | None:
        context = contextvars.copy_context()
        decided = self._first_request(conn)
        if decided is None:
            return context  # opened as it is
        route, size = decided
        if not self._admission.turns_away():
            context.run(ACCEPTED_ENTRY.set, self._admission.enter())
            return context
        answer = refusal(self._server_state.default_headers, keep_alive=True)
        try:
            sent = conn.send(answer) == len(answer)
            read = sent and len(conn.recv(size)) == size
        except OSError:
            sent = read = False
        if sent:
            count_refusal(route)
        if not read:  # the client is gone, or the answer did not fit: nothing to go on
            conn.close()
            return None
        context.run(ANSWERED_ON_ACCEPT.set, True)
        return context

    def abandon(self, context: contextvars.Context) -> None:
        entry = context.get(ACCEPTED_ENTRY)
        if entry is not None:
            entry.release()

    def _first_request(self, conn: socket.socket) -> tuple[str, int] | None:
        """The bounded route and size of the first request, if it is there whole and plain."""
        try:
            data = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
        except OSError:  # nothing arrived yet, or the connection is already gone
            return None
        end = data.find(b"\r\n\r\n")
        if end < 0 or not data.startswith(b"POST "):
            return None
        head = _Head()
        parser = httptools.HttpRequestParser(head)
        try:
            parser.feed_data(data[: end + 4])
        except httptools.HttpParserError:
            return None  # the protocol answers it as it answers any malformed request
        size = end + 4 + head.length
        if (
            not head.complete
            or not head.plain
            or head.length < 0
            or size > len(data)
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
        ):
            return None
        try:
            route = bounded_post(self._root_path, head.url)
        except httptools.HttpParserError:
            return None
        return None if route is None else (route, size)


def uvicorn_options() -> dict[str, Any]:
    return {"http": AdmittingHttpToolsProtocol}

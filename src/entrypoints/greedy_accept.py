"""`serve --loop auto`: uvloop, taking every waiting connection each time the socket is ready.

libuv accepts one new connection per pass of the event loop (libuv PR #3696). A worker with
hundreds of requests in flight makes a pass every few milliseconds, so a storm of new
connections waits in the kernel's accept queue, seconds at 1,024 clients, before the first
request on each is even read; refusing it at once (503, admission) cannot help a request that
has not been read. Here the listening socket is watched by the loop itself, and each time it is
ready every waiting connection (up to 64) is accepted and handed to uvloop as an
accepted socket: transports, protocols, reading and writing stay uvloop's. This covers a
server on a bound socket (each worker of `serve --workers N`) and one on an IP address and port
(a single worker); one on a host name, or with TLS, is uvloop's own.

A protocol may also answer a connection's first request in the pass that accepts it: if an
instance of the server's protocol has `accept_door()`, the door it returns sees each accepted
socket before uvloop does (`AcceptDoor`). A worker busy with charges makes passes of tens of
milliseconds, and a new connection otherwise waits three of them (its task, `connection_made`,
its first read) before its first request is read at all. A connection accepted before its
client's first bytes arrived is watched until they do, and shown to the door then: in the
pass that reads them, not three passes later.
"""

import asyncio
import contextvars
import errno
import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import Any, Protocol

import uvloop

logger = logging.getLogger("uvicorn.error")
# Out of descriptors or memory: accepting again at once would spin; asyncio waits a second too.
PAUSE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
PAUSE_SECONDS = 1.0
# Taken at one wake-up at most: a storm is taken in a few passes, each pass kept short.
ACCEPTS_PER_WAKE_UP = 64


class AcceptDoor(Protocol):
    """Sees each accepted connection before it is opened as a transport."""

    def admit(self, conn: socket.socket) -> contextvars.Context | None:
        """None: the door answered the connection and closed it. Otherwise the context to
        open it in (the protocol finds there what the door decided)."""

    def abandon(self, context: contextvars.Context) -> None:
        """The connection admitted in `context` could not be opened: undo what was decided."""


class GreedyServer(asyncio.AbstractServer):
    """A listening socket whose waiting connections are all accepted at each wake-up."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        sock: socket.socket,
        backlog: int,
        *,
        owns_socket: bool = False,
    ) -> None:
        self._loop = loop
        self._owns_socket = owns_socket
        self._factory = protocol_factory
        self._sock = sock
        self._backlog = backlog
        self._serving = False
        self._closed = False
        self._connecting: set[asyncio.Task[None]] = set()
        self._waiting: dict[int, socket.socket] = {}  # accepted, their first bytes not yet come
        door = getattr(protocol_factory(), "accept_door", None)  # an instance never connected
        self._door: AcceptDoor | None = door() if callable(door) else None

    def start(self) -> None:
        self._sock.setblocking(False)
        self._sock.listen(self._backlog)
        self._resume()

    def _resume(self) -> None:
        if not self._closed and self._sock.fileno() != -1:
            self._loop.add_reader(self._sock.fileno(), self._accept)
            self._serving = True

    def _accept(self) -> None:
        for _ in range(max(1, min(self._backlog, ACCEPTS_PER_WAKE_UP))):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # none left waiting
            except ConnectionAbortedError:
                continue  # the client gave up while it waited
            except OSError as error:
                if error.errno not in PAUSE_ERRORS:
                    raise
                logger.error("cannot accept connections for now: %s", error.strerror)
                self._stop_accepting()
                self._loop.call_later(PAUSE_SECONDS, self._resume)
                return
            try:
                conn.setblocking(False)
                if conn.family in (socket.AF_INET, socket.AF_INET6):
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as error:  # this connection only
                conn.close()
                logger.warning("a connection could not be opened: %s", error)
                continue
            if self._door is not None and not _has_arrived(conn):
                self._watch(conn)
            else:
                self._let_in(conn)

    def _let_in(self, conn: socket.socket) -> None:
        """Past the door, if there is one; then opened as a transport of uvloop's."""
        context = None
        if self._door is not None:
            try:
                context = self._door.admit(conn)
            except Exception:  # the door's fault: the connection is opened as it is
                logger.exception("the accept door failed on a connection")
                context = contextvars.copy_context()
            if context is None:
                return  # answered and closed by the door
        task = self._loop.create_task(self._connect(conn, context), context=context)
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    def _watch(self, conn: socket.socket) -> None:
        """Until the client's first bytes (or its end) arrive; then past the door."""
        fd = conn.fileno()
        try:
            self._loop.add_reader(fd, self._first_bytes, fd)
        except Exception:  # cannot be watched: opened as it is, its request decided on reading
            logger.exception("a new connection could not be watched")
            self._let_in(conn)
            return
        self._waiting[fd] = conn

    def _first_bytes(self, fd: int) -> None:
        self._loop.remove_reader(fd)
        conn = self._waiting.pop(fd, None)
        if conn is not None:
            self._let_in(conn)

    async def _connect(self, conn: socket.socket, context: contextvars.Context | None) -> None:
        try:
            transport, protocol = await self._loop.connect_accepted_socket(self._factory, conn)
        except Exception as error:  # one connection lost, the server goes on
            conn.close()
            if self._door is not None and context is not None:
                self._door.abandon(context)
            logger.warning("a connection could not be opened: %s", error)
            return
        if self._closed:  # the server stopped meanwhile: this one closes as the others do
            shutdown = getattr(protocol, "shutdown", None)
            if callable(shutdown):
                shutdown()
            else:
                transport.close()

    def close(self) -> None:
        """Stop accepting, and close the connections whose first bytes have not come. The
        open connections are the caller's to close, and so is the socket, unless this server
        made it."""
        self._stop_accepting()
        self._closed = True
        for fd, conn in self._waiting.items():  # nothing sent on them: closed as idle ones are
            self._loop.remove_reader(fd)
            conn.close()
        self._waiting.clear()
        if self._owns_socket:
            self._sock.close()

    def _stop_accepting(self) -> None:
        if self._serving and self._sock.fileno() != -1:
            self._loop.remove_reader(self._sock.fileno())
        self._serving = False

    async def wait_closed(self) -> None:
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        if not self._serving:
            self.start()

    async def serve_forever(self) -> None:
        await self.start_serving()
        await asyncio.get_running_loop().create_future()  # until cancelled

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._sock,)


class GreedyAcceptLoop(uvloop.Loop):  # type: ignore[misc]
    """uvloop, whose servers on an already bound plain socket accept greedily."""

    async def create_server(  # type: ignore[override]
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        host: Any = None,
        port: Any = None,
        *,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        **kwargs: Any,
    ) -> asyncio.AbstractServer:
        owned = False
        if sock is None and port is not None and _ip_literal(host) and ssl is None and not kwargs:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock, owned = socket.create_server((host, port), family=family, backlog=backlog), True
        elif sock is None or host is not None or port is not None or ssl is not None or kwargs:
            return await super().create_server(  # type: ignore[no-any-return]
                protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl, **kwargs
            )
        server = GreedyServer(self, protocol_factory, sock, backlog, owns_socket=owned)
        server.start()
        return server


def _has_arrived(conn: socket.socket) -> bool:
    """Whether the client sent something, or closed, or the connection failed: whether reading
    would tell anything now."""
    try:
        conn.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        pass  # reset or failed: opening it tells the protocol
    return True


def _ip_literal(host: Any) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def new_event_loop() -> asyncio.AbstractEventLoop:
    """For uvicorn's `loop` setting ("module:callable", called for each new loop)."""
    return GreedyAcceptLoop()

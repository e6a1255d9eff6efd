"""`serve --workers N`: every worker accepts connections on a listening socket of its own.

uvicorn's workers share the master's one listening socket, and asyncio accepts up to a
backlog of pending connections at each wake-up, so a burst of keep-alive connections lands
mostly on one worker and stays there. Here the master binds host:port with SO_REUSEPORT and
never listens: it holds the port, reports a bind error in one line, and takes no
connections. Each worker binds the same address with SO_REUSEPORT and its server listens
there once the application has started; the kernel spreads new connections across the
listening sockets.
"""

import logging
import socket
import sys
from typing import Any, TypeVar

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("uvicorn.error")
S = TypeVar("S", bound=socket.socket)


class CannotListen(Exception):
    """The address cannot be bound for several workers; the message is one line."""


class WorkerFailedToStart(Exception):
    """A worker exited before it served (its app or its socket could not start), and the
    supervisor stopped the others; the message is one line, the worker's log says why."""


class MasterSocket(socket.socket):
    """The master's socket: bound with SO_REUSEPORT, never listening.

    uvicorn hands the master's sockets to every worker it starts, replacements of crashed
    workers included, by pickling them into the new process. This one arrives there as a new
    socket of the worker's own, bound to the same address; the worker's server listens on it.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _bound_in_worker, (self.family, self.getsockname())


def run(config: Config) -> None:
    """uvicorn's multiprocess supervisor, each worker on its own SO_REUSEPORT socket."""
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    try:
        _refuse_taken(family, (config.host, config.port))
        master = _bound(MasterSocket, family, (config.host, config.port))
    except OSError as error:
        raise CannotListen(f"cannot bind {config.host}:{config.port}: {error.strerror}") from None
    with master:
        address = master.getsockname()
        host = f"[{address[0]}]" if family == socket.AF_INET6 else address[0]
        logger.info(
            "Uvicorn running on http://%s:%d with %d workers, each on its own socket (Press "
            "CTRL+C to quit)",
            host,
            address[1],
            config.workers,
        )
        supervisor = Multiprocess(config, sockets=[master])
        supervisor.run()
    failed = [p.pid for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        raise WorkerFailedToStart(f"a worker (pid {failed[0]}) failed to start; its log says why")


def _refuse_taken(family: int, address: tuple[Any, ...]) -> None:
    """EADDRINUSE where a server listens already, one on SO_REUSEPORT sockets included.

    A bind with SO_REUSEADDR alone conflicts with any listening socket but not with the
    connections of an earlier run left in TIME_WAIT. Without this check a second `serve` on
    the port would join the first one's SO_REUSEPORT group and take a share of its
    connections.
    """
    if address[1] == 0:
        return
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


def _bound(kind: type[S], family: int, address: tuple[Any, ...]) -> S:
    reuse_port = getattr(socket, "SO_REUSEPORT", None)
    if reuse_port is None:
        raise CannotListen("several workers need SO_REUSEPORT, which this platform lacks")
    sock = kind(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, reuse_port, 1)
        except OSError as error:
            raise CannotListen(f"several workers need SO_REUSEPORT: {error.strerror}") from None
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _bound_in_worker(family: int, address: tuple[Any, ...]) -> socket.socket:
    try:
        return _bound(socket.socket, family, address)
    except (OSError, CannotListen) as error:
        # uvicorn's supervisor stops on this exit status instead of restarting the worker
        print(f"serve: a worker cannot bind {address[0]}:{address[1]}: {error}", file=sys.stderr)
        raise SystemExit(STARTUP_FAILURE) from None

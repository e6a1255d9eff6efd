"""A loopback TCP proxy that a test can turn off: a server that goes away, or stops answering."""

import socket
import threading
from contextlib import suppress
from typing import Literal

Mode = Literal["forward", "refuse", "silent"]


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; `refuse` closes everything, `silent` accepts only."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "forward"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
                if self.mode != "forward":
                    continue  # silent: the connection is accepted and never answered
                upstream = socket.create_connection(self.target)
                self._sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def _drop_connections(self) -> None:
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def silence(self) -> None:
        """Existing connections break; new ones are accepted and never answered."""
        self.mode = "silent"
        self._drop_connections()

    def refuse(self) -> None:
        """The server is gone: nothing listens on the port any more."""
        self.mode = "refuse"
        self._listener.close()
        self._drop_connections()

    def close(self) -> None:
        self.refuse()

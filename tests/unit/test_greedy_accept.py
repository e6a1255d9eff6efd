"""`serve`'s default loop takes every waiting connection each time its socket is ready."""

import asyncio
import socket
from typing import Any

import uvloop

from entrypoints.greedy_accept import ACCEPTS_PER_WAKE_UP, GreedyAcceptLoop, GreedyServer

WAITING = 200


async def passes_to_take(waiting: int) -> tuple[list[int], asyncio.AbstractServer]:
    """Open `waiting` connections while the loop is held up, then count the loop's passes
    until each has been taken: for each connection, the pass in which it was."""
    loop = asyncio.get_running_loop()
    passes = [0]
    taken: list[int] = []

    class Counted(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            taken.append(passes[0])

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await loop.create_server(Counted, sock=sock, backlog=1024)
    port = sock.getsockname()[1]
    # The kernel completes these connections while the loop runs none of its callbacks.
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(waiting)]

    def tick() -> None:
        passes[0] += 1
        loop.call_soon(tick)

    loop.call_soon(tick)
    while len(taken) < waiting and passes[0] < 50 * waiting:
        await asyncio.sleep(0)
    for client in clients:
        client.close()
    server.close()
    sock.close()
    return taken, server


def test_waiting_connections_are_taken_many_at_a_pass_of_the_loop() -> None:
    loop = GreedyAcceptLoop()
    try:
        taken, server = loop.run_until_complete(passes_to_take(WAITING))
    finally:
        loop.close()
    assert isinstance(server, GreedyServer)
    assert len(taken) == WAITING
    # a wake-up a pass, up to ACCEPTS_PER_WAKE_UP each, and a pass to open each transport
    assert max(taken) <= WAITING // ACCEPTS_PER_WAKE_UP + 4, max(taken)


def test_uvloop_as_it_is_takes_one_connection_a_pass() -> None:
    """What the greedy loop is for: the measure above does tell the two apart."""
    loop = uvloop.new_event_loop()
    try:
        taken, _ = loop.run_until_complete(passes_to_take(WAITING))
    finally:
        loop.close()
    assert len(taken) == WAITING
    assert max(taken) >= WAITING // 2, max(taken)


def test_a_server_on_an_address_is_greedy_and_closes_the_socket_it_made() -> None:
    async def scenario() -> tuple[asyncio.AbstractServer, bytes]:
        loop = asyncio.get_running_loop()

        class Echo(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def data_received(self, data: bytes) -> None:
                self.transport.write(data.upper())

        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        answer = await reader.readexactly(4)
        writer.close()
        server.close()
        await server.wait_closed()
        return server, answer

    loop = GreedyAcceptLoop()
    try:
        server, answer = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert isinstance(server, GreedyServer) and answer == b"PING"
    assert server.sockets[0].fileno() == -1  # the socket it made is closed with it

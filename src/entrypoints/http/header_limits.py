"""Header limits: 64 KiB of headers in all (the server), 16 KiB per header line (the app).

uvicorn's httptools parser has no header limit, so `serve` runs h11, whose receive buffer
is capped at MAX_HEADER_BYTES: a larger header block is answered 431 and the connection
closed after at most one more read, before any application code sees the request. A single
header line over MAX_HEADER_LINE_BYTES inside that bound is answered 431 by the first
middleware.
"""

from typing import Any

import h11
from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADER_LINE_BYTES = 16 * 1024
TOO_LARGE = b"Request Header Fields Too Large"


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering 431 instead of 400 when the headers outgrow the cap."""

    def send_400_response(self, msg: str) -> None:
        buffered, _ = self.conn.trailing_data
        if len(buffered) <= (self.config.h11_max_incomplete_event_size or MAX_HEADER_BYTES):
            super().send_400_response(msg)
            return
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
        for event in (
            h11.Response(status_code=431, headers=headers, reason=TOO_LARGE),
            h11.Data(data=TOO_LARGE),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    return {"http": BoundedH11Protocol, "h11_max_incomplete_event_size": MAX_HEADER_BYTES}


class HeaderLineLimit(ASGIMiddleware):
    """431 for a request with one header line (name, colon, space, value) over the limit."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if any(len(n) + len(v) + 2 > MAX_HEADER_LINE_BYTES for n, v in scope["headers"]):
            start: HTTPResponseStartEvent = {
                "type": "http.response.start",
                "status": 431,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
            body: HTTPResponseBodyEvent = {
                "type": "http.response.body",
                "body": TOO_LARGE,
                "more_body": False,
            }
            await send(start)
            await send(body)
            return
        await next_app(scope, receive, send)


def install(app_config: AppConfig) -> AppConfig:
    """on_app_init hook: outermost, before anything reads a header."""
    app_config.middleware.insert(0, HeaderLineLimit())
    return app_config

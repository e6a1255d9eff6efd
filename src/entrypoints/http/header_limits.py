"""Header limits: 64 KiB of headers in all (the server), 16 KiB per header line (the app).

uvicorn's httptools protocol sets no header limit of its own, so `serve` runs a subclass that
counts a request's bytes as they arrive: once more than MAX_HEADER_BYTES came in and the
headers are still incomplete, it answers 431 and closes the connection, before any
application code sees the request. A single header line over MAX_HEADER_LINE_BYTES inside
that bound is answered 431 by the first middleware.
"""

import json
from typing import Any

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
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADER_LINE_BYTES = 16 * 1024
# The contract's error body: a 431 is a request refused for its size, as a 413 is.
TOO_LARGE = json.dumps(
    {
        "success": False,
        "error": {"code": "VALIDATION_ERROR", "message": "request header fields too large"},
    },
    separators=(",", ":"),
).encode()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 431 once a request's headers outgrow the cap.

    Counted after each read is parsed: while the headers are still incomplete, every byte
    received for the request was header, so a worker holds at most the cap plus one read.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0
        self._in_headers = True

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._in_headers and self._header_bytes > MAX_HEADER_BYTES:
            self._in_headers = False
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/json\r\nconnection: close\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(TOO_LARGE), TOO_LARGE)
            )
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_headers, self._header_bytes = True, 0


class HeaderLineLimit(ASGIMiddleware):
    """431 for a request with one header line (name, colon, space, value) over the limit."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if any(len(n) + len(v) + 2 > MAX_HEADER_LINE_BYTES for n, v in scope["headers"]):
            start: HTTPResponseStartEvent = {
                "type": "http.response.start",
                "status": 431,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(TOO_LARGE)).encode()),
                ],
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

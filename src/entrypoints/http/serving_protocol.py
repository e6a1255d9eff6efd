"""The HTTP protocol `serve` runs: refusals at capacity answered as the request arrives.

A worker past its capacity has a queue of work on its event loop. A charge refused by a
middleware waits in that queue twice (its read, then its request's task) and costs the
framework's setup; under a flood of refusals that made each one wait for the others. Here a
charge or refund that arrives while its worker is full is answered from the read that
completed its headers: no task, no application code, its body read and dropped. The answer is
the same `503 SERVICE_UNAVAILABLE` the middleware gives (`admission.shed_when_full`), which still
covers what this cannot: a request pipelined behind one still running, another ASGI server.
"""

import urllib.parse
from typing import Any

import httptools
from litestar import Litestar
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from entrypoints.http.admission import (
    ADMISSION_STATE_KEY,
    REFUSAL_BODY,
    REFUSAL_HEADERS,
    Admission,
    bounded_route,
    count_refusal,
)
from entrypoints.http.header_limits import BoundedHttpToolsProtocol

WRAPPERS = 8  # uvicorn's own wrappers around the app (proxy headers, message logger)


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

    def on_headers_complete(self) -> None:
        route = self._route_to_refuse()
        if route is None:
            super().on_headers_complete()
            return
        self._in_headers = False
        self._refusing = True
        self._refuse(route)

    def on_body(self, body: bytes) -> None:
        if not self._refusing:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refusing:
            super().on_message_complete()
            return
        self._refusing = False
        self._in_headers, self._header_bytes = True, 0

    def _route_to_refuse(self) -> str | None:
        """The bounded route of this request if its worker is full and it can be answered
        now: none is still being answered on this connection, and it asks no upgrade."""
        admission = self._admission
        if admission is None or not admission.full:
            return None
        if self.cycle is not None and not self.cycle.response_complete:
            return None  # pipelined: answers go in order, the middleware refuses it
        if self.parser.should_upgrade():
            return None
        path = httptools.parse_url(self.url).path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        return bounded_route(self.parser.get_method().decode("ascii"), self.root_path + path)

    def _refuse(self, route: str) -> None:
        # With `Expect: 100-continue` the body will not come: the connection cannot be reused.
        keep_alive = (
            self.parser.get_http_version() != "1.0"
            and self.parser.should_keep_alive()
            and not self.expect_100_continue
        )
        content = [STATUS_LINE[503]]
        for name, value in [*self.server_state.default_headers, *REFUSAL_HEADERS]:
            content += [name, b": ", value, b"\r\n"]
        if not keep_alive:
            content.append(b"connection: close\r\n")
        content += [b"\r\n", REFUSAL_BODY]
        self.transport.write(b"".join(content))
        count_refusal(route)
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()  # reading resumes; the keep-alive timer is armed


def uvicorn_options() -> dict[str, Any]:
    return {"http": AdmittingHttpToolsProtocol}

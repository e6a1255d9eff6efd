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
there, at a tenth of the cost.
"""

import urllib.parse
from typing import Any

import httptools
from litestar import Litestar
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

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

    def on_headers_complete(self) -> None:
        route = self._bounded_route()
        if route is None:
            super().on_headers_complete()
            return
        assert self._admission is not None
        if self._admission.full:
            self._in_headers = False
            self._refusing = True
            self._refuse(route)
            return
        # Counted until admission decides, so that one read of many requests lets in no more
        # than the worker has room for; the request's task carries its entry.
        self._release_entry()
        self._entry = self._letting_in = self._admission.enter()
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
        path = httptools.parse_url(self.url).path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        return bounded_route("POST", self.root_path + path)

    def _refuse(self, route: str) -> None:
        # With `Expect: 100-continue` the body will not come: the connection cannot be reused.
        keep_alive = (
            self.parser.get_http_version() != "1.0"
            and self.parser.should_keep_alive()
            and not self.expect_100_continue
        )
        content = [STATUS_LINE[503]]
        for name, value in [*self.server_state.default_headers, *refusal_headers()]:
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

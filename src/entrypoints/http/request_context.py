"""Every request gets an id (the caller's X-Request-ID or a new one), returned and logged.

A given id that is malformed or looks like a card number is replaced, never echoed or stored.

One access line per request: method, path, status, duration, user and request id. The id is
bound to the log context, so every line the request causes carries it.
"""

import re
import time
import uuid
from typing import Any

import structlog
from litestar.config.app import AppConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from application.actors import Actor
from domain.card_data import looks_like_card_number
from entrypoints.logs import scrub

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
access_log = structlog.get_logger("payments.access")


def request_id_of(scope: Scope) -> str:
    """The id of this request: set once, from a well-formed header or freshly made."""
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        acceptable = _ACCEPTABLE_ID.match(given) and not looks_like_card_number(given)
        state["request_id"] = given if acceptable else new_request_id()
    return str(state["request_id"])


def new_request_id() -> str:
    """32 random hex digits, never shaped like a card number: the logs keep it as it is."""
    while looks_like_card_number(made := uuid.uuid4().hex):  # about 1 id in 450
        pass
    return made


class RequestContextMiddleware(ASGIMiddleware):
    """Binds the request id (and, once authenticated, the user id) to the log context."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id_of(scope))
        scope["state"]["started"] = time.perf_counter()
        await next_app(scope, receive, send)


def install(app_config: AppConfig) -> AppConfig:
    """on_app_init hook: outermost, so that even a 401 from authentication is traced."""
    app_config.middleware.insert(0, RequestContextMiddleware())
    return app_config


async def log_and_tag_response(message: Message, scope: Scope) -> None:
    """before_send hook: add X-Request-ID to every response and write the access line."""
    if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
        return
    request_id = request_id_of(scope)
    MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
    started = scope["state"].get("started")
    user: Any = scope.get("user")
    access_log.info(
        "request",
        request_id=request_id,
        method=scope.get("method"),
        path=scrub(scope["path"]),  # a client may put anything in a URL
        status=message["status"],
        duration_ms=round((time.perf_counter() - started) * 1000, 2) if started else None,
        user_id=user.user_id if isinstance(user, Actor) else None,
    )

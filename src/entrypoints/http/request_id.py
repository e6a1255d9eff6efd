"""The request's id (see request_context) and its user, recorded as the cause of its events."""

from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from application.causes import api_request, caused_by
from entrypoints.http.request_context import request_id_of


def request_cause_middleware(app: ASGIApp) -> ASGIApp:
    """Runs after authentication: every event saved by the request names it and its user."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        user_id: Any = getattr(scope.get("user"), "user_id", None)
        with caused_by(api_request(request_id_of(scope), user_id)):
            await app(scope, receive, send)

    return middleware

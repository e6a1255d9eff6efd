"""Request ids: taken from `X-Request-ID` or made up, echoed back, and recorded as a cause."""

import re
import uuid
from collections.abc import MutableMapping
from typing import Any

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from application.causes import api_request, caused_by

HEADER = "X-Request-ID"
_SAFE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(headers: MutableMapping[str, str] | Headers) -> str:
    """The caller's id when it is short and plain, else a new one."""
    given = headers.get(HEADER) or ""
    return given if _SAFE.fullmatch(given) else uuid.uuid4().hex


def request_cause_middleware(app: ASGIApp) -> ASGIApp:
    """Runs after authentication: every event saved by the request names it and its user."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = request_id_from(Headers.from_scope(scope))
        scope.setdefault("state", {})["request_id"] = request_id  # request.state.request_id
        user_id: Any = getattr(scope.get("user"), "user_id", None)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((HEADER.lower().encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        with caused_by(api_request(request_id, user_id)):
            await app(scope, receive, send_with_id)

    return middleware

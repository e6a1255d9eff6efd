"""Console sessions: an admin bearer token exchanged for a signed, short-lived cookie.

The cookie is Litestar's client-side session (AES-GCM with a key derived from the service's
JWT secret): HttpOnly, SameSite=Strict, scoped to /console, Secure over https. It lasts at
most 8 hours and never beyond the token's own expiry; signing out also records its id as
ended, so a copy of the cookie is refused afterwards.
"""

import hashlib
import hmac
import secrets
import time
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.types import Message, Scope

from application.actors import Actor
from entrypoints.http.auth import ALGORITHM, SkewTolerantToken
from entrypoints.http.rate_limits import STORE_NAME

MAX_SESSION_SECONDS = 8 * 60 * 60
SESSION_COOKIE = "payments_console"
CSRF_COOKIE = "payments_console_csrf"
ENDED_PREFIX = "console-session-ended:"


class SignInRequired(NotAuthorizedException):
    """No valid console session: the browser is sent to the sign-in page."""


class TokenRefused(Exception):
    """The token given at sign-in is not valid, or not an admin's; nothing is kept."""


def derived_key(jwt_secret: str, purpose: str) -> bytes:
    return hmac.new(jwt_secret.encode(), f"console-{purpose}".encode(), hashlib.sha256).digest()


def session_config(jwt_secret: str) -> CookieBackendConfig:
    return CookieBackendConfig(
        secret=derived_key(jwt_secret, "session"),
        key=SESSION_COOKIE,
        path="/console",
        max_age=MAX_SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=False,  # set per request by `secure_cookies_over_https`
        exclude=["^/(?!console).", "^/console/static"],
    )


def csrf_config(jwt_secret: str) -> CSRFConfig:
    """Every unsafe request to /console needs the token of the form it came from; the API
    (bearer tokens, no cookies) is left out."""
    return CSRFConfig(
        secret=derived_key(jwt_secret, "csrf").hex(),
        cookie_name=CSRF_COOKIE,
        cookie_path="/console",
        cookie_httponly=True,
        cookie_samesite="strict",
        exclude=["^/(?!console)."],
    )


async def secure_cookies_over_https(message: Message, scope: Scope) -> None:
    """before_send hook: console cookies are Secure whenever the request came over https."""
    if message["type"] != "http.response.start" or scope.get("scheme") != "https":
        return
    headers = MutableScopeHeaders.from_message(message)
    cookies = headers.getall("set-cookie", [])
    if not cookies:
        return
    del headers["set-cookie"]
    for cookie in cookies:
        secure = "; secure" in cookie.lower()
        headers.add("set-cookie", cookie if secure else f"{cookie}; Secure")


def verified_admin(token: str, jwt_secret: str) -> tuple[Actor, float]:
    """The operator a bearer token names and its expiry, checked as the API checks it."""
    try:
        decoded = SkewTolerantToken.decode(
            token.strip(), secret=jwt_secret, algorithm=ALGORITHM, require_claims=["exp", "sub"]
        )
    except NotAuthorizedException:
        raise TokenRefused("this token is not valid: expired, malformed or not ours") from None
    roles = decoded.extras.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenRefused("this token is not valid: its roles are malformed")
    actor = Actor(user_id=decoded.sub, roles=frozenset(roles))
    if not actor.is_admin:
        raise TokenRefused("this token has no admin role: the console is for operators")
    return actor, decoded.exp.timestamp()


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    session = connection.scope.get("session")
    return session if isinstance(session, dict) else {}


def new_session(actor: Actor, token_expiry: float) -> dict[str, Any]:
    return {
        "operator": actor.user_id,
        "roles": sorted(actor.roles),
        "expires": min(time.time() + MAX_SESSION_SECONDS, token_expiry),
        "sid": secrets.token_hex(16),
    }


async def end_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    session = session_of(connection)
    sid, expires = session.get("sid"), session.get("expires")
    if isinstance(sid, str) and isinstance(expires, int | float):
        ttl = max(int(expires - time.time()) + 1, 1)
        await connection.app.stores.get(STORE_NAME).set(ENDED_PREFIX + sid, b"1", ttl)
    connection.scope["session"] = {}


async def operator_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: a live session of an admin, else a redirect to sign in."""
    session = session_of(connection)
    expires, sid = session.get("expires"), session.get("sid")
    if not isinstance(expires, int | float) or expires <= time.time() or not isinstance(sid, str):
        connection.scope["session"] = {}
        raise SignInRequired()
    if await connection.app.stores.get(STORE_NAME).exists(ENDED_PREFIX + sid):
        connection.scope["session"] = {}
        raise SignInRequired()
    actor = Actor(user_id=str(session["operator"]), roles=frozenset(session.get("roles", [])))
    if not actor.is_admin:
        raise SignInRequired()
    connection.scope["user"] = actor

"""Bearer tokens: HS256 JWTs whose `sub` is the user id and `roles` a list of roles."""

import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import jwt
import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import JWTAuth, Token

from application.actors import Actor

# The console signs in with its own session (entrypoints/console); its pages take no bearer.
CONSOLE_PATH = "^/console"
PUBLIC_PATHS = ["^/health", "^/schema", "^/metrics", "^/api/webhooks", CONSOLE_PATH]
ALGORITHM = "HS256"
CLOCK_SKEW_SECONDS = 5
MAX_USER_ID = 255
# Tokens whose signature and claims were verified, by the token and what checked it: a client
# sends the same token with every request, and its signature cannot change.
VERIFIED_TOKENS = 4096
_verified: dict[tuple[Any, ...], dict[str, Any]] = {}


class SkewTolerantToken(Token):
    """A token checked by PyJWT with a small, explicit leeway on exp, nbf and iat.

    `iat` is required (Litestar reads it) and bounds the token's life: exp - iat may not
    exceed `max_lifetime` seconds (0: no bound), so a leaked token cannot live for years.
    """

    max_lifetime: ClassVar[int] = 0

    @classmethod
    def decode_payload(
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        options: Any = None,
    ) -> Any:
        """The verified claims; a token verified before is not verified again until it expires."""
        key = (cls, encoded_token, secret, _frozen(issuer), _frozen(audience), _frozen(options))
        known = _verified.get(key)
        now = time.time()
        if known is not None and known["exp"] + CLOCK_SKEW_SECONDS > now:
            return _within_leeway(dict(known), now)
        payload = cls._verified_payload(encoded_token, secret, issuer, audience, options)
        if len(_verified) >= VERIFIED_TOKENS:
            _verified.clear()  # simpler than tracking age, and safe from any thread
        _verified[key] = dict(payload)
        return _within_leeway(payload, now)

    @classmethod
    def _verified_payload(
        cls,
        encoded_token: str,
        secret: str,
        issuer: str | Sequence[str] | None,
        audience: str | Sequence[str] | None,
        options: Any,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = jwt.decode(
            encoded_token,
            key=secret,
            algorithms=[ALGORITHM],  # pinned: never what the token's header asks for
            issuer=issuer,
            audience=audience,
            options=options,
            leeway=CLOCK_SKEW_SECONDS,
        )
        issued, expires = payload.get("iat"), payload.get("exp")
        if not isinstance(issued, int | float) or not isinstance(expires, int | float):
            raise jwt.InvalidTokenError("exp and iat must be numeric dates")
        if cls.max_lifetime and expires - issued > cls.max_lifetime:
            raise jwt.InvalidTokenError("the token lives longer than allowed")
        if not _is_user_id(payload.get("sub")):
            raise jwt.InvalidTokenError("sub must be 1-255 printable characters")
        return payload


def _is_user_id(subject: object) -> bool:
    """A user id the stores can hold and index: no NUL, control or invisible characters (which
    PostgreSQL's text refuses or a reader cannot see), no edge spaces, at most 255 characters."""
    return (
        isinstance(subject, str)
        and 0 < len(subject) <= MAX_USER_ID
        and subject.isprintable()
        and subject == subject.strip()
    )


def _within_leeway(payload: dict[str, Any], now: float) -> dict[str, Any]:
    """PyJWT has checked the times with the leeway; Litestar's Token re-checks them without."""
    payload["exp"] = max(payload["exp"], math.ceil(now) + 1)
    payload["iat"] = min(payload["iat"], math.floor(now))
    return payload


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_frozen(v) for v in value)
    return value


async def actor_from_token(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    roles = token.extras.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise NotAuthorizedException("Invalid token")
    structlog.contextvars.bind_contextvars(user_id=token.sub)  # on every line of this request
    return Actor(user_id=token.sub, roles=frozenset(roles))


def jwt_auth(
    secret: str,
    *,
    max_lifetime: int = 0,
    audience: str | None = None,
    issuer: str | None = None,
) -> JWTAuth[Actor, Token]:
    """Bearer tokens; `aud` and `iss` are checked when configured, then required."""
    token_cls = type("BoundedToken", (SkewTolerantToken,), {"max_lifetime": max_lifetime})
    return JWTAuth[Actor, Token](
        retrieve_user_handler=actor_from_token,
        token_secret=secret,
        algorithm=ALGORITHM,
        token_cls=token_cls,
        exclude=PUBLIC_PATHS,
        require_claims=["exp", "iat", "sub"]
        + (["aud"] if audience else [])
        + (["iss"] if issuer else []),
        accepted_audiences=[audience] if audience else None,
        accepted_issuers=[issuer] if issuer else None,
    )

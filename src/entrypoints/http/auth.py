"""Bearer tokens: HS256 JWTs whose `sub` is the user id and `roles` a list of roles."""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import JWTAuth, Token

from application.actors import Actor

PUBLIC_PATHS = ["^/health", "^/schema", "^/metrics", "^/api/webhooks"]


async def actor_from_token(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    roles = token.extras.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise NotAuthorizedException("Invalid token")
    return Actor(user_id=token.sub, roles=frozenset(roles))


def jwt_auth(secret: str) -> JWTAuth[Actor, Token]:
    return JWTAuth[Actor, Token](
        retrieve_user_handler=actor_from_token,
        token_secret=secret,
        algorithm="HS256",
        exclude=PUBLIC_PATHS,
        require_claims=["exp", "sub"],
    )

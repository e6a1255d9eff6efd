"""Bearer tokens: a maximum lifetime, `iat` required, `aud` and `iss` checked when configured."""

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import JWT_SECRET

HISTORY = "/api/payments/history"
DAY = 86400


def token(**claims: Any) -> dict[str, str]:
    now = int(time.time())
    payload = {"sub": "claims-user", "roles": [], "iat": now, "exp": now + 600, **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return {"Authorization": f"Bearer {jwt.encode(payload, JWT_SECRET, algorithm='HS256')}"}


def statuses(
    env: dict[str, str], make: Callable[[dict[str, str]], Container], *tokens: dict[str, str]
) -> list[int]:
    with TestClient(create_app(make(env))) as client:
        return [client.get(HISTORY, headers=t).status_code for t in tokens]


def test_a_token_living_longer_than_the_maximum_is_refused(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    now = int(time.time())
    answers = statuses(
        base_env,
        make_container,
        token(iat=now, exp=now + DAY),
        token(iat=now, exp=now + 2 * DAY),
        token(iat=now - 10 * DAY, exp=now + 600),
        token(iat=None),
    )
    assert answers == [200, 401, 401, 401]


def test_the_maximum_lifetime_is_configurable(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    now = int(time.time())
    env = {**base_env, "PAYMENTS_JWT_MAX_LIFETIME": "900"}
    answers = statuses(env, make_container, token(exp=now + 600), token(exp=now + 1200))
    assert answers == [200, 401]


@pytest.mark.parametrize(
    ("claim", "variable"), [("aud", "PAYMENTS_JWT_AUDIENCE"), ("iss", "PAYMENTS_JWT_ISSUER")]
)
def test_audience_and_issuer_are_checked_when_configured(
    base_env: dict[str, str],
    make_container: Callable[[dict[str, str]], Container],
    claim: str,
    variable: str,
) -> None:
    env = {**base_env, variable: "courses.example"}
    answers = statuses(
        env,
        make_container,
        token(**{claim: "courses.example"}),
        token(**{claim: "elsewhere.example"}),
        token(),
    )
    assert answers == [200, 401, 401]


def test_a_user_id_the_stores_cannot_hold_or_a_reader_cannot_see_is_refused(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    answers = statuses(
        base_env,
        make_container,
        token(sub="user-1@example.com"),
        token(sub="Ada Lovelace"),
        token(sub="a\x00b"),
        token(sub="   "),
        token(sub=" padded"),
        token(sub="zero\u200bwidth"),
        token(sub="x" * 256),
        token(sub="x" * 255),
    )
    assert answers == [200, 200, 401, 401, 401, 401, 401, 200]

"""Verified tokens are remembered only as long as they are valid, and only for their secret."""

import time

import jwt
import pytest

from entrypoints.http import auth

SECRET = "unit-secret-0123456789-0123456789-0123456789"


def _token(lifetime: int = 60, secret: str = SECRET) -> str:
    now = int(time.time())
    claims = {"sub": "u1", "roles": ["admin"], "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


def _decode(token: str, secret: str = SECRET) -> dict[str, object]:
    payload: dict[str, object] = auth.SkewTolerantToken.decode_payload(token, secret, ["HS256"])
    return payload


def test_a_token_verified_once_is_not_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token()
    first = _decode(token)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("verified again")

    monkeypatch.setattr(auth.jwt, "decode", refuse)
    again = _decode(token)
    assert again["sub"] == first["sub"] == "u1" and again["roles"] == ["admin"]


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token(lifetime=30)
    _decode(token)
    later = time.time() + 30 + auth.CLOCK_SKEW_SECONDS + 1
    monkeypatch.setattr(auth.time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime(later))
    with pytest.raises(jwt.ExpiredSignatureError):
        _decode(token)


def test_a_token_is_remembered_only_for_the_secret_that_verified_it() -> None:
    token = _token()
    _decode(token)
    with pytest.raises(jwt.InvalidSignatureError):
        _decode(token, secret="another-secret-0123456789-0123456789-012345")


def test_the_memory_is_bounded() -> None:
    for lifetime in range(60, 60 + auth.VERIFIED_TOKENS + 50):
        _decode(_token(lifetime=lifetime))
    assert len(auth._verified) <= auth.VERIFIED_TOKENS


class _FrozenDatetime:
    """PyJWT reads the time through datetime.now(tz=utc): this one answers `at`."""

    def __init__(self, at: float) -> None:
        import datetime as real

        self._real = real.datetime
        self._at = at

    def now(self, tz: object = None) -> object:
        return self._real.fromtimestamp(self._at, tz=tz)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

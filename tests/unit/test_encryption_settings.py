"""PAYMENTS_ENCRYPTION_KEY is checked at start: base64 of an AES-128, -192 or -256 key."""

import base64
from pathlib import Path

import pytest

from entrypoints.settings import ConfigError, Settings


def settings_with(key: str, tmp_path: Path) -> Settings:
    return Settings.from_env({"PAYMENTS_DATA_DIR": str(tmp_path), "PAYMENTS_ENCRYPTION_KEY": key})


@pytest.mark.parametrize("size", [16, 24, 32])
def test_aes_key_sizes_are_accepted(size: int, tmp_path: Path) -> None:
    key = base64.b64encode(bytes(range(size))).decode()
    assert settings_with(key, tmp_path).encryption_key == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "not base64!",
            "PAYMENTS_ENCRYPTION_KEY: must be base64 (make one: payment-service keygen)",
        ),
        (
            base64.b64encode(b"short").decode(),
            "PAYMENTS_ENCRYPTION_KEY: must encode 16, 24 or 32 bytes",
        ),
    ],
)
def test_a_malformed_key_is_refused_naming_the_variable(
    key: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as error:
        settings_with(key, tmp_path)
    assert str(error.value) == message

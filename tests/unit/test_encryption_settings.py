"""PAYMENTS_ENCRYPTION_KEY and PAYMENTS_DECRYPT_ONLY_KEYS are checked at start: base64 of
AES-128, -192 or -256 keys; the cipher writes with the first and reads with any."""

import base64
from pathlib import Path

import pytest
from eventsourcing.utils import Environment

from adapters.encryption import KeyRingCipher, key_ring_env
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


def key(seed: int) -> str:
    return base64.b64encode(bytes([seed]) * 32).decode()


def test_decrypt_only_keys_are_read_trimmed_without_repeats_or_the_current_key(
    tmp_path: Path,
) -> None:
    env = {
        "PAYMENTS_DATA_DIR": str(tmp_path),
        "PAYMENTS_ENCRYPTION_KEY": key(1),
        "PAYMENTS_DECRYPT_ONLY_KEYS": f" {key(2)} ,{key(3)},,{key(2)},{key(1)}",
    }
    assert Settings.from_env(env).decrypt_only_keys == (key(2), key(3))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PAYMENTS_DECRYPT_ONLY_KEYS": key(2)},
            "PAYMENTS_DECRYPT_ONLY_KEYS is set without PAYMENTS_ENCRYPTION_KEY, the key that "
            "encrypts new events",
        ),
        (
            {"PAYMENTS_ENCRYPTION_KEY": key(1), "PAYMENTS_DECRYPT_ONLY_KEYS": f"{key(2)},c2hvcnQ="},
            "PAYMENTS_DECRYPT_ONLY_KEYS: must encode 16, 24 or 32 bytes",
        ),
    ],
)
def test_bad_decrypt_only_keys_are_refused_naming_the_variable(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"PAYMENTS_DATA_DIR": str(tmp_path), **env})
    assert str(error.value) == message


def cipher(current: str, *read_only: str) -> KeyRingCipher:
    return KeyRingCipher(Environment(env=key_ring_env(current, read_only)))


def test_the_key_ring_writes_with_the_current_key_and_reads_with_any() -> None:
    before = cipher(key(1)).encrypt(b"written under the old key")
    rotated = cipher(key(2), key(1))

    after = rotated.encrypt(b"written under the new key")

    assert rotated.decrypt(before) == b"written under the old key"
    assert rotated.decrypt(after) == b"written under the new key"
    assert cipher(key(1), key(2)).decrypt(after) == b"written under the new key"
    with pytest.raises(ValueError, match="damaged"):
        cipher(key(1)).decrypt(after)  # the new key writes: the old one alone cannot read it
    with pytest.raises(ValueError, match="damaged"):
        cipher(key(3), key(4)).decrypt(before)

"""Stripe configuration: the gateway it selects, and one clear line for each bad value."""

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.simulated_gateway import SimulatedGateway
from adapters.stripe_gateway import StripeGateway
from entrypoints.container import build_container
from entrypoints.settings import ConfigError, Settings

SECRET = "sk_test_0123456789abcdef"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"PAYMENTS_DATA_DIR": str(tmp_path), "STRIPE_WEBHOOK_SECRET": "whsec_x"}


def test_a_secret_key_selects_stripe_and_none_the_simulated_gateway(env: dict[str, str]) -> None:
    assert isinstance(build_container(Settings.from_env(env)).gateway(), SimulatedGateway)
    stripe_env = {**env, "STRIPE_SECRET_KEY": SECRET, "STRIPE_API_BASE": "http://127.0.0.1:1/"}
    assert isinstance(build_container(Settings.from_env(stripe_env)).gateway(), StripeGateway)


def test_timeouts_and_retries_have_bounded_defaults(env: dict[str, str]) -> None:
    settings = Settings.from_env(env)
    assert (settings.stripe_connect_timeout, settings.stripe_read_timeout) == (5.0, 30.0)
    assert settings.stripe_max_network_retries == 2
    tuned = Settings.from_env(
        {**env, "STRIPE_CONNECT_TIMEOUT": "2.5", "STRIPE_READ_TIMEOUT": "10",
         "STRIPE_MAX_NETWORK_RETRIES": "0"}
    )  # fmt: skip
    assert (tuned.stripe_connect_timeout, tuned.stripe_read_timeout) == (2.5, 10.0)
    assert tuned.stripe_max_network_retries == 0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STRIPE_SECRET_KEY", "pk_test_0123456789abcdef", "a publishable key (pk_...) was given"),
        ("STRIPE_SECRET_KEY", "not-a-key", "must be a Stripe secret key"),
        ("STRIPE_PUBLIC_KEY", SECRET, "must be a publishable key"),
        ("STRIPE_API_BASE", "localhost:8420", "must be an http:// or https:// URL"),
        ("STRIPE_CONNECT_TIMEOUT", "five", "must be a number of seconds"),
        ("STRIPE_READ_TIMEOUT", "0", "must be more than 0 and at most 120 seconds"),
        ("STRIPE_READ_TIMEOUT", "600", "must be more than 0 and at most 120 seconds"),
        ("STRIPE_MAX_NETWORK_RETRIES", "-1", "must not be negative"),
    ],
)
def test_a_bad_value_names_its_variable(
    env: dict[str, str], name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**env, name: value})
    assert str(raised.value).startswith(f"{name}: ")
    assert message in str(raised.value)


def test_a_real_key_needs_a_webhook_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^STRIPE_WEBHOOK_SECRET: required"):
        Settings.from_env({"PAYMENTS_DATA_DIR": str(tmp_path), "STRIPE_SECRET_KEY": SECRET})


def test_the_command_refuses_a_publishable_key_at_start_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "reconcile"],
        env={"PAYMENTS_DATA_DIR": str(tmp_path), "STRIPE_SECRET_KEY": "pk_live_0123456789abcdef",
             "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "configuration error: STRIPE_SECRET_KEY: a publishable key (pk_...) was given; use sk_..."
    ]

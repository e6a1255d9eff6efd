"""Small pieces of operability on their own: log scrubbing, check deadlines, settings."""

import threading
import time
from pathlib import Path

import pytest

from entrypoints.deadline import CheckTimedOut, DeadlineCheck
from entrypoints.logs import REDACTED, scrub
from entrypoints.readiness import Component, Readiness, overall
from entrypoints.settings import ConfigError, Settings


@pytest.mark.parametrize(
    "secret",
    [
        "pi_3Nx9aB2eZvKYlo2C1abc_secret_Xy9zQwErTy",
        "pi_sim_be4214a830ae3ec1c1703cee_secret_0a1b2c3d",
        "sk_live_51Hx9aB2eZvKYlo2C1abcdef",
        "rk_test_51Hx9aB2eZvKYlo2C1abcdef",
        "whsec_0123456789abcdef",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl",
        "4242 4242 4242 4242",
        "4000-0566-5566-5556",
    ],
)
def test_secrets_are_redacted_wherever_they_appear(secret: str) -> None:
    assert scrub(f"calling with {secret} now") == f"calling with {REDACTED} now"
    assert scrub({"nested": [f"x {secret}"]}) == {"nested": [f"x {REDACTED}"]}


def test_ids_and_amounts_are_left_as_they_are() -> None:
    text = (
        "payment 7b3cd1fa-6796-57d9-aca8-cfdb69a6d388 pi_sim_be4214a8 re_1 9999 usd 1234567890123"
    )
    assert scrub(text) == text
    assert scrub({"authorization": "anything", "amount": 5}) == {
        "authorization": REDACTED,
        "amount": 5,
    }


def test_a_hung_check_times_out_and_is_not_started_twice() -> None:
    release = threading.Event()
    started: list[float] = []

    def hangs() -> None:
        started.append(time.monotonic())
        release.wait(5)

    check = DeadlineCheck(hangs, seconds=0.1)
    with pytest.raises(CheckTimedOut):
        check()
    with pytest.raises(CheckTimedOut):
        check()
    assert len(started) == 1
    release.set()
    time.sleep(0.05)
    assert check() is None  # the dependency answers again: so does the check
    assert len(started) == 2


def test_a_check_that_answers_gives_its_value_or_its_error() -> None:
    assert DeadlineCheck(lambda: 7, seconds=1)() == 7
    with pytest.raises(ZeroDivisionError):
        DeadlineCheck(lambda: 1 / 0, seconds=1)()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAYMENTS_CORS_ORIGINS", "*"),
        ("PAYMENTS_CORS_ORIGINS", "courses.example.com"),
        ("PAYMENTS_WEBHOOK_RATE_LIMIT_PER_MINUTE", "-1"),
        ("PAYMENTS_WEBHOOK_RATE_LIMIT_PER_MINUTE", "many"),
        ("PAYMENTS_MAX_LOOP_LAG_MS", "-5"),
        ("PAYMENTS_MAX_LOOP_LAG_MS", "0.5s"),
    ],
)
def test_bad_operability_settings_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"PAYMENTS_DATA_DIR": str(tmp_path), name: value})


def test_operability_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "PAYMENTS_DATA_DIR": str(tmp_path),
            "PAYMENTS_CORS_ORIGINS": "https://a.example, https://b.example/",
            "PAYMENTS_WEBHOOK_RATE_LIMIT_PER_MINUTE": "0",
            "PAYMENTS_MAX_LOOP_LAG_MS": "0",
        }
    )
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.webhook_rate_limit_per_minute == 0
    assert settings.max_loop_lag is None
    defaults = Settings.from_env({"PAYMENTS_DATA_DIR": str(tmp_path)})
    assert defaults.cors_origins == () and defaults.webhook_rate_limit_per_minute == 600
    assert defaults.max_loop_lag == 0.020
    lag_40 = Settings.from_env(
        {"PAYMENTS_DATA_DIR": str(tmp_path), "PAYMENTS_MAX_LOOP_LAG_MS": "40"}
    )
    assert lag_40.max_loop_lag == 0.040


class FoundNothing:
    def find(self, payment_id: object) -> None:
        return None


class Runner:
    def __init__(self, lag: int, error: Exception | None) -> None:
        self._lag, self.error = lag, error

    def lag(self) -> int:
        return self._lag


def test_a_projection_that_keeps_failing_makes_readiness_degraded() -> None:
    stalled = Readiness(FoundNothing(), Runner(3, ValueError("bad row")), [])  # type: ignore[arg-type]
    behind = Readiness(FoundNothing(), Runner(3, None), [])  # type: ignore[arg-type]
    components = stalled.components()
    assert components["history"] == Component("degraded", "ValueError", 3)
    assert overall(components) == "degraded"
    assert behind.components()["history"] == Component("ok", None, 3)
    assert overall(behind.components()) == "ok"


def test_a_served_app_keeps_what_start_made_out_of_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve`'s factory freezes the start-up heap and sets the collector's thresholds; what
    is made afterwards is still collected, by the collector's own young collections too."""
    import gc
    import weakref

    from entrypoints.http import app as app_module

    thresholds = gc.get_threshold()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYMENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(app_module, "configure_logging", lambda: None)
    assert gc.get_freeze_count() == 0
    try:
        app_module.app_from_env()
        assert gc.get_freeze_count() > 1000
        assert gc.get_threshold() == (2_000, 1_000, 10)

        class Node:
            other: object = None

        def garbage_cycle() -> weakref.ref[Node]:
            made_later = Node()
            made_later.other = made_later  # a cycle: only the collector frees it
            return weakref.ref(made_later)

        gone = garbage_cycle()
        gc.collect()
        assert gone() is None

        gone = garbage_cycle()
        held = [[] for _ in range(2_500)]  # more new objects alive than the young threshold
        assert gone() is None, "a young collection ran by itself and freed the cycle"
        del held
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)

"""Outbound events: the retry schedule, the signature a receiver checks, the configuration."""

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from adapters.webhook_sink import signature_header
from application.retry_schedule import RetrySchedule
from entrypoints.cli import main
from entrypoints.settings import ConfigError, Settings
from tests.outbound_receiver import EVENTS_SECRET, verify

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_production_schedule_starts_at_one_second_and_doubles_up_to_one_hour() -> None:
    schedule = RetrySchedule()
    assert [schedule.backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 32, 64]
    assert schedule.backoff(12) == 2048
    assert schedule.backoff(13) == 3600  # capped
    assert schedule.backoff(500) == 3600


def test_jitter_stays_within_a_quarter_below_the_backoff_and_never_under_a_second() -> None:
    schedule = RetrySchedule(rng=random.Random(7))
    for failures in range(1, 30):
        for _ in range(50):
            delay = schedule.delay(failures)
            assert (
                max(1.0, 0.75 * schedule.backoff(failures)) <= delay <= schedule.backoff(failures)
            )
    spread = {round(RetrySchedule().delay(20)) for _ in range(50)}
    assert len(spread) > 10  # receivers back up after an outage are not all hit at once


def test_an_event_is_tried_for_at_least_72_hours_then_parked() -> None:
    schedule = RetrySchedule(rng=random.Random(1))
    now, failures, gaps = START, 0, []
    while not schedule.gives_up(START, now):
        failures += 1
        gap = schedule.delay(failures)
        gaps.append(gap)
        now += timedelta(seconds=gap)
    assert now - START >= timedelta(hours=72)
    assert now - START < timedelta(hours=73)
    assert gaps[0] == 1.0
    assert max(gaps) <= 3600
    assert 70 < failures < 110  # about a dozen quick tries, then about one an hour


def test_the_signature_is_what_the_readme_receiver_verifies() -> None:
    body = b'{"id":"evt","type":"payment.succeeded"}'
    now = int(datetime.now(UTC).timestamp())
    header = signature_header(EVENTS_SECRET, now, body)
    assert header.startswith(f"t={now},v1=")
    assert verify(body, header)
    assert not verify(body + b" ", header)  # another body
    assert not verify(body, header, secret=EVENTS_SECRET + "x")  # another secret
    assert not verify(body, signature_header(EVENTS_SECRET, now - 3600, body))  # too old


SECRET = "s" * 32


URLS, SIGNING, NATS = (
    "PAYMENTS_EVENTS_WEBHOOK_URLS", "PAYMENTS_EVENTS_SIGNING_SECRET", "PAYMENTS_EVENTS_NATS_URL",
)  # fmt: skip


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({URLS: "ftp://platform/hooks", SIGNING: SECRET}, URLS),
        ({URLS: "https://ok/x,platform/hooks", SIGNING: SECRET}, URLS),
        ({URLS: "https://platform/hooks", SIGNING: "short"}, SIGNING),
        ({URLS: "https://platform/hooks"}, SIGNING),
        ({NATS: "http://127.0.0.1:4222"}, NATS),
    ],
)
def test_bad_event_configuration_is_refused_naming_the_variable(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{named}: "):
        Settings.from_env(env)


def test_bad_event_configuration_stops_the_command_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    monkeypatch.setenv("PAYMENTS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAYMENTS_EVENTS_WEBHOOK_URLS", "https://platform.example/hooks")
    monkeypatch.delenv("PAYMENTS_EVENTS_SIGNING_SECRET", raising=False)
    assert main(["events", "list"]) == 2
    assert capsys.readouterr().err.startswith(
        "configuration error: PAYMENTS_EVENTS_SIGNING_SECRET: required when"
    )


def test_good_event_configuration_is_kept() -> None:
    settings = Settings.from_env(
        {
            "PAYMENTS_EVENTS_WEBHOOK_URLS": " https://a.example/h , http://127.0.0.1:9000/h,",
            "PAYMENTS_EVENTS_SIGNING_SECRET": SECRET,
            "PAYMENTS_EVENTS_NATS_URL": "nats://127.0.0.1:4222",
        }
    )
    assert settings.events.webhook_urls == ("https://a.example/h", "http://127.0.0.1:9000/h")
    assert settings.events.nats_url == "nats://127.0.0.1:4222"


def test_replay_never_rebuilds_the_outbox(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    monkeypatch.setenv("PAYMENTS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAYMENTS_EVENTS_WEBHOOK_URLS", "https://platform.example/hooks")
    monkeypatch.setenv("PAYMENTS_EVENTS_SIGNING_SECRET", SECRET)
    assert main(["replay", "--projection", "outbound-events"]) == 2
    assert "unknown projection 'outbound-events'" in capsys.readouterr().err


def test_building_the_container_leaves_prometheus_client_unimported() -> None:
    """`serve` chooses the metrics' multiprocess mode after building the container."""
    check = (
        "import sys; import entrypoints.cli, entrypoints.container, entrypoints.outbound_wiring; "
        "sys.exit('prometheus_client' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0

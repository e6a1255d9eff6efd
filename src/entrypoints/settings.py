"""Configuration from the environment (and a .env file); bad values fail with one clear line."""

import base64
import binascii
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from entrypoints.events_settings import EventsSettings, events_settings

MAX_STRIPE_TIMEOUT = 120
# A worker completes at least 50 charges a second (one core, `make bench`): a full queue of
# 25 x deadline empties in half the deadline, so what is admitted finishes in time.
ADMITTED_PER_SECOND_OF_DEADLINE = 25


class ConfigError(Exception):
    """A configuration variable is missing or malformed; the message names it."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str | None
    redis_url: str | None
    data_dir: Path
    stripe_secret_key: str | None
    stripe_public_key: str | None
    stripe_api_base: str | None
    webhook_secrets: tuple[str, ...]
    jwt_secret: str
    encryption_key: str | None
    rate_limit_per_minute: int
    # Keys that decrypt events but never encrypt: earlier keys after a rotation, or the next
    # key while every process is being given it.
    decrypt_only_keys: tuple[str, ...] = ()
    stripe_connect_timeout: float = 5.0
    stripe_read_timeout: float = 30.0
    stripe_max_network_retries: int = 2
    simulated_webhook_url: str | None = None
    webhook_rate_limit_per_minute: int = 600
    auth_failures_per_minute: int = 30
    jwt_max_lifetime: int = 86400
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    cors_origins: tuple[str, ...] = ()
    request_timeout: float = 10.0
    max_in_flight: int | None = None
    max_loop_lag: float | None = 0.020  # seconds; None: admission by count alone
    events: EventsSettings = field(default_factory=EventsSettings)
    events_retry_base: float = 1.0  # seconds before the first retry; tests shorten it

    @property
    def admitted_in_flight(self) -> int:
        """PAYMENTS_MAX_IN_FLIGHT, or 25 per second of the deadline (250 for 10 s)."""
        if self.max_in_flight is not None:
            return self.max_in_flight
        return math.ceil(ADMITTED_PER_SECOND_OF_DEADLINE * self.request_timeout)

    @property
    def events_file(self) -> Path:
        return self.data_dir / "events.db"

    @property
    def views_file(self) -> Path:
        return self.data_dir / "history.db"

    @property
    def chain_file(self) -> Path:
        return self.data_dir / "audit-chain.db"

    @property
    def outbox_file(self) -> Path:
        return self.data_dir / "outbound-events.db"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        data_dir = Path(get("PAYMENTS_DATA_DIR") or "./var")
        stripe_key = _stripe_secret_key(get("STRIPE_SECRET_KEY"))
        webhook = get("STRIPE_WEBHOOK_SECRET")
        if stripe_key and not webhook:
            raise ConfigError("STRIPE_WEBHOOK_SECRET: required when STRIPE_SECRET_KEY is set")
        return cls(
            database_url=_database_url(get("PAYMENTS_DATABASE_URL")),
            redis_url=_redis_url(get("PAYMENTS_REDIS_URL")),
            data_dir=data_dir,
            stripe_secret_key=stripe_key,
            stripe_public_key=_stripe_public_key(get("STRIPE_PUBLIC_KEY")),
            stripe_api_base=_http_url("STRIPE_API_BASE", get("STRIPE_API_BASE")),
            webhook_secrets=tuple(
                s.strip()
                for s in (webhook or dev_secret(data_dir, "webhook-secret", "whsec_")).split(",")
                if s.strip()
            ),
            jwt_secret=_jwt_secret(get("PAYMENTS_JWT_SECRET"))
            or dev_secret(data_dir, "jwt-secret"),
            encryption_key=_encryption_key(get("PAYMENTS_ENCRYPTION_KEY")),
            decrypt_only_keys=_decrypt_only_keys(
                get("PAYMENTS_DECRYPT_ONLY_KEYS"), get("PAYMENTS_ENCRYPTION_KEY")
            ),
            rate_limit_per_minute=_non_negative_int(
                "PAYMENTS_RATE_LIMIT_PER_MINUTE", get("PAYMENTS_RATE_LIMIT_PER_MINUTE") or "60"
            ),
            stripe_connect_timeout=_seconds(
                "STRIPE_CONNECT_TIMEOUT", get("STRIPE_CONNECT_TIMEOUT") or "5"
            ),
            stripe_read_timeout=_seconds("STRIPE_READ_TIMEOUT", get("STRIPE_READ_TIMEOUT") or "30"),
            stripe_max_network_retries=_non_negative_int(
                "STRIPE_MAX_NETWORK_RETRIES", get("STRIPE_MAX_NETWORK_RETRIES") or "2"
            ),
            simulated_webhook_url=_simulated_webhook_url(get("PAYMENTS_SIMULATED_WEBHOOK_URL")),
            webhook_rate_limit_per_minute=_non_negative_int(
                "PAYMENTS_WEBHOOK_RATE_LIMIT_PER_MINUTE",
                get("PAYMENTS_WEBHOOK_RATE_LIMIT_PER_MINUTE") or "600",
            ),
            cors_origins=_origins(get("PAYMENTS_CORS_ORIGINS")),
            request_timeout=_seconds(
                "PAYMENTS_REQUEST_TIMEOUT", get("PAYMENTS_REQUEST_TIMEOUT") or "10"
            ),
            max_in_flight=_max_in_flight(get("PAYMENTS_MAX_IN_FLIGHT")),
            max_loop_lag=_max_loop_lag(get("PAYMENTS_MAX_LOOP_LAG_MS") or "20"),
            auth_failures_per_minute=_non_negative_int(
                "PAYMENTS_AUTH_FAILURES_PER_MINUTE",
                get("PAYMENTS_AUTH_FAILURES_PER_MINUTE") or "30",
            ),
            jwt_max_lifetime=_non_negative_int(
                "PAYMENTS_JWT_MAX_LIFETIME", get("PAYMENTS_JWT_MAX_LIFETIME") or "86400"
            ),
            jwt_audience=get("PAYMENTS_JWT_AUDIENCE"),
            jwt_issuer=get("PAYMENTS_JWT_ISSUER"),
            events=events_settings(get, ConfigError),
        )


def dev_secret(data_dir: Path, name: str, prefix: str = "") -> str:
    """A secret kept in the data dir for development, made on first use, readable by us only."""
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(prefix + secrets.token_urlsafe(32))
    return path.read_text().strip()


def _database_url(value: str | None) -> str | None:
    if value and not value.startswith(("postgresql://", "postgres://")):
        raise ConfigError("PAYMENTS_DATABASE_URL: must be a postgresql:// URL")
    return value


def _redis_url(value: str | None) -> str | None:
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("PAYMENTS_REDIS_URL: must be a redis://, rediss:// or unix:// URL")
    return value


def _http_url(name: str, value: str | None) -> str | None:
    if value and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name}: must be an http:// or https:// URL")
    return value.rstrip("/") if value else None


def _simulated_webhook_url(value: str | None) -> str | None:
    if value is None or value.lower() == "off":
        return None
    return _http_url("PAYMENTS_SIMULATED_WEBHOOK_URL", value)


def _origins(value: str | None) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in (value or "").split(",") if o.strip())
    for origin in origins:
        if origin == "*" or not origin.startswith(("http://", "https://")):
            raise ConfigError(
                "PAYMENTS_CORS_ORIGINS: comma-separated http(s):// origins; '*' is not allowed"
            )
    return origins


def _stripe_secret_key(value: str | None) -> str | None:
    if value is None:
        return None
    if value.startswith("pk_"):
        raise ConfigError("STRIPE_SECRET_KEY: a publishable key (pk_...) was given; use sk_...")
    if not value.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")) or len(value) < 16:
        raise ConfigError(
            "STRIPE_SECRET_KEY: must be a Stripe secret key (sk_test_... or sk_live_...)"
        )
    return value


def _stripe_public_key(value: str | None) -> str | None:
    if value is not None and not value.startswith(("pk_test_", "pk_live_")):
        # It is handed to browsers: a secret key here would be published.
        raise ConfigError(
            "STRIPE_PUBLIC_KEY: must be a publishable key (pk_test_... or pk_live_...)"
        )
    return value


def _jwt_secret(value: str | None) -> str | None:
    if value is not None and len(value) < 32:
        raise ConfigError("PAYMENTS_JWT_SECRET: must be at least 32 characters")
    return value


def _encryption_key(value: str | None, name: str = "PAYMENTS_ENCRYPTION_KEY") -> str | None:
    if value is None:
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{name}: must be base64 (make one: payment-service keygen)") from None
    if len(key) not in (16, 24, 32):
        raise ConfigError(f"{name}: must encode 16, 24 or 32 bytes")
    return value


def _decrypt_only_keys(value: str | None, encryption_key: str | None) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in (value or "").split(",") if k.strip())
    if keys and not encryption_key:
        raise ConfigError(
            "PAYMENTS_DECRYPT_ONLY_KEYS is set without PAYMENTS_ENCRYPTION_KEY, the key that "
            "encrypts new events"
        )
    for key in keys:
        _encryption_key(key, "PAYMENTS_DECRYPT_ONLY_KEYS")
    return tuple(k for k in dict.fromkeys(keys) if k != encryption_key)


def _non_negative_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}: must be a whole number") from None
    if number < 0:
        raise ConfigError(f"{name}: must not be negative")
    return number


def _max_in_flight(value: str | None) -> int | None:
    if value is None:
        return None
    number = _non_negative_int("PAYMENTS_MAX_IN_FLIGHT", value)
    if number == 0:
        raise ConfigError("PAYMENTS_MAX_IN_FLIGHT: must be at least 1")
    return number


def _max_loop_lag(value: str) -> float | None:
    """PAYMENTS_MAX_LOOP_LAG_MS: milliseconds; 0 turns admission by the loop's lag off."""
    milliseconds = _non_negative_int("PAYMENTS_MAX_LOOP_LAG_MS", value)
    return milliseconds / 1000 if milliseconds else None


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name}: must be a number of seconds") from None
    if not 0 < seconds <= MAX_STRIPE_TIMEOUT:
        raise ConfigError(f"{name}: must be more than 0 and at most {MAX_STRIPE_TIMEOUT} seconds")
    return seconds


def load_dotenv(path: Path = Path(".env")) -> None:
    """Read KEY=VALUE lines into the environment; variables already set win."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))

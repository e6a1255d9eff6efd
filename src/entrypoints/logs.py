"""Structured logs: one JSON object per line, request context bound, secrets scrubbed."""

import logging
import os
import re
import sys
from typing import IO, Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from domain.card_data import looks_like_card_number

_HANDLER_NAME = "payments-json"
REDACTED = "[redacted]"
# Shapes of what must never reach a log line, whatever field or message carries it.
_SECRETS = re.compile(
    r"(?:pi|seti)_[A-Za-z0-9_]+?_secret_[A-Za-z0-9]+"  # PaymentIntent / SetupIntent client secret
    r"|(?:sk|rk)_(?:test|live)_[A-Za-z0-9]+"  # Stripe secret and restricted keys
    r"|whsec_[A-Za-z0-9_\-]+"  # webhook signing secrets
    r"|(?i:bearer)\s+[A-Za-z0-9\-_=]+(?:\.[A-Za-z0-9\-_=]+)*"  # Authorization header values
    r"|eyJ[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]*"  # a JWT anywhere
)
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){12,}")
_SENSITIVE_KEYS = {"authorization", "client_secret", "clientsecret", "cvc", "cvv", "password"}


def scrub(value: Any) -> Any:
    if isinstance(value, str):
        cleaned = _DIGIT_RUN.sub(_card_number_redacted, _SECRETS.sub(REDACTED, value))
        # a number disguised by other separators or invisible characters: the whole value goes
        return REDACTED if looks_like_card_number(cleaned) else cleaned
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in _SENSITIVE_KEYS else scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _card_number_redacted(match: re.Match[str]) -> str:
    return REDACTED if looks_like_card_number(match.group()) else match.group()


def scrub_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Last line of defence: no card number, client secret, key or token leaves the process."""
    return {
        key: REDACTED if key.lower() in _SENSITIVE_KEYS else scrub(value)
        for key, value in event.items()
    }


def add_process_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    event.setdefault("pid", os.getpid())  # tells the workers of one server apart
    return event


def configure_logging(stream: IO[str] | None = None, level: int = logging.INFO) -> None:
    """Route structlog and the standard library (uvicorn, libraries) to JSON lines."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_process_id,
        scrub_secrets,  # before any handler sees the event, not only the one that prints it
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            scrub_secrets,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # one access line per request is ours

"""Structured logs: one JSON object per line, request context bound, secrets scrubbed.

structlog's events are scrubbed, rendered and written as lines by the one handler installed
on the root logger; records of the standard library (uvicorn, libraries) reach that same
handler and go through the same processors on the way.
"""

import json
import logging
import os
import re
import sys
from typing import IO, Any

import msgspec
import structlog
from structlog.typing import EventDict, WrappedLogger

from domain.card_data import looks_like_card_number

_HANDLER_NAME = "payments-json"
REDACTED = "[redacted]"
# Shapes of what must never reach a log line, whatever field or message carries it.
_SECRETS = re.compile(  # each alternative starts with a literal character: a fast scan
    r"pi_[A-Za-z0-9_]+?_secret_[A-Za-z0-9]+"  # PaymentIntent client secret
    r"|seti_[A-Za-z0-9_]+?_secret_[A-Za-z0-9]+"  # SetupIntent client secret
    r"|sk_(?:test|live)_[A-Za-z0-9]+|rk_(?:test|live)_[A-Za-z0-9]+"  # secret, restricted keys
    r"|whsec_[A-Za-z0-9_\-]+"  # webhook signing secrets
    r"|B(?i:earer)\s+[A-Za-z0-9\-_=]+(?:\.[A-Za-z0-9\-_=]+)*"  # Authorization header values
    r"|b(?i:earer)\s+[A-Za-z0-9\-_=]+(?:\.[A-Za-z0-9\-_=]+)*"
    r"|eyJ[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]*"  # a JWT anywhere
)
# Credentials carried by a URL (an outbound webhook's, say): its user:password, and the value
# of a query parameter named like a secret. The host and path stay, to tell endpoints apart.
_URL_SECRETS = re.compile(
    r"(?<=://)[^/\s@:]+:[^/\s@]+(?=@)"
    r"|(?<=[?&])(?i:access_token|api_key|apikey|auth|key|password|secret|sig|signature|token)"
    r"=[^&#\s\"']+"
)
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){12,}")
# Whether ASCII text holds such a run, without the regular expression: digits become "0",
# a space or dash "-", anything else "x"; two separators in a row break a run, one joins it.
_SHAPES = str.maketrans(
    {chr(c): "0" if chr(c).isdigit() else "-" if chr(c) in " -" else "x" for c in range(128)}
)
_DIGIT_RUN_SHAPE = "0" * 13
_SENSITIVE_KEYS = {"authorization", "client_secret", "clientsecret", "cvc", "cvv", "password"}
# Bookkeeping of structlog's processors, never rendered as it is: `exc_info` becomes the
# "exception" field (see scrub_exception), the other two are dropped before rendering.
_UNRENDERED = frozenset({"exc_info", "_record", "_from_structlog"})


class ServiceId(str):
    """An id the service made and logs as it is: a payment's, as the store holds it.

    A payment's id is a UUID derived from its user and key; about one in 480 has digit groups
    that join into a run passing Luhn. That is chance, not card data, and hiding it would lose
    the payment in its own audit lines. An id a client sent stays a plain text, scrubbed like
    any other (a card number can be written in the shape of a UUID).
    """

    __slots__ = ()


def scrub(value: Any) -> Any:
    """`value` with every secret and card number replaced, as data JSON can hold."""
    if type(value) is ServiceId:
        return str(value)
    if isinstance(value, str):
        if value in _clean_texts:
            return value
        cleaned = _SECRETS.sub(REDACTED, value)
        if "://" in cleaned or "=" in cleaned:
            cleaned = _URL_SECRETS.sub(_url_secret_redacted, cleaned)
        if _may_hold_digit_run(cleaned):
            cleaned = _DIGIT_RUN.sub(_card_number_redacted, cleaned)
        # a number disguised by other separators or invisible characters: the whole value goes
        if looks_like_card_number(cleaned):
            return REDACTED
        if cleaned == value and len(value) <= 256:
            if len(_clean_texts) >= 4096:
                _clean_texts.clear()
            _clean_texts.add(value)
        return cleaned
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return REDACTED if _is_card_number(value) else value
    if isinstance(value, dict):
        return {
            _scrubbed_key(k): REDACTED if str(k).lower() in _SENSITIVE_KEYS else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return scrub(_as_text(value))  # an object is shown by its repr: scrubbed like any text


# Short texts seen to hold nothing to scrub (methods, paths, user ids, the request id of the
# lines of one request): most values of a line were in the line before.
_clean_texts: set[str] = set()


def _may_hold_digit_run(text: str) -> bool:
    if text.isascii():
        return _DIGIT_RUN_SHAPE in text.translate(_SHAPES).replace("--", "x").replace("-", "")
    return True


def _url_secret_redacted(match: re.Match[str]) -> str:
    name, equals, _ = match.group().partition("=")
    return f"{name}={REDACTED}" if equals else REDACTED


def _card_number_redacted(match: re.Match[str]) -> str:
    return REDACTED if looks_like_card_number(match.group()) else match.group()


def _is_card_number(number: float) -> bool:
    if not 1e12 <= abs(number) < 1e19:
        return False  # fewer than 13 digits or more than 19, or not a number
    return looks_like_card_number(str(int(number)))


def _as_text(value: Any) -> Any:
    structlog_form = getattr(value, "__structlog__", None)
    return structlog_form() if callable(structlog_form) else repr(value)


# Field names seen to be neither sensitive nor holding a secret: most lines use the same few.
_clean_keys: set[str] = set()


def _scrubbed_key(key: Any) -> Any:
    if key in _clean_keys or not isinstance(key, str):
        return key
    cleaned = scrub(key)
    if cleaned == key and key.lower() not in _SENSITIVE_KEYS and len(_clean_keys) < 4096:
        _clean_keys.add(key)
    return cleaned


def scrub_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Last line of defence: no card number, client secret, key or token leaves the process."""
    if _clean_keys.issuperset(event) and _plain_and_clean(event):
        return event  # the common line: known field names, short numbers, texts seen clean
    return {
        _scrubbed_key(key): (
            value
            if key in _UNRENDERED
            else REDACTED
            if key.lower() in _SENSITIVE_KEYS
            else scrub(value)
        )
        for key, value in event.items()
    }


def _plain_and_clean(event: EventDict) -> bool:
    """True when scrub would leave every value as it is: texts, short numbers, None."""
    for key, value in event.items():
        kind = type(value)
        if kind is str:
            if value not in _clean_texts and scrub(value) != value:
                return False
        elif kind is int or kind is float:
            if not -1e12 < value < 1e12:
                return False
        elif value is not None and kind is not bool and key not in _UNRENDERED:
            return False
    return True


def scrub_exception(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """The traceback format_exc_info made of `exc_info`, scrubbed like every other field."""
    if "exception" in event:
        event["exception"] = scrub(event["exception"])
    return event


def add_process_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    event.setdefault("pid", os.getpid())  # tells the workers of one server apart
    return event


_ENCODER = msgspec.json.Encoder()


def render_json(_: WrappedLogger, __: str, event: EventDict) -> str:
    """The event as json.dumps writes it: ", " and ": " between items, non-ASCII escaped."""
    try:
        line = msgspec.json.format(_ENCODER.encode(event), indent=0)
        if line.isascii():
            return line.decode()
    except (TypeError, ValueError):
        pass  # a type msgspec does not encode: json.dumps shows its repr
    try:
        return json.dumps(event, default=_as_text)
    except (TypeError, ValueError):  # an integer too long to write, a key JSON cannot hold
        return json.dumps(
            {str(k): v if _is_json_scalar(v) else type(v).__name__ for k, v in event.items()}
        )


def _is_json_scalar(value: Any) -> bool:
    kind = type(value)
    return value is None or kind in (str, bool, float) or (kind is int and value.bit_length() < 64)


class JSONLinesHandler(logging.StreamHandler[IO[str]]):
    """Writes the lines structlog rendered, and formats the records of the standard library."""

    def write_line(self, line: str) -> None:
        """What emit does with a record, for a line already rendered: one write, one flush."""
        self.acquire()
        try:
            self.stream.write(line + self.terminator)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": line}))
        finally:
            self.release()


class _LineLogger:
    """What structlog's loggers hand their rendered lines to: the handler of configure_logging.

    When that handler is no longer on the root logger (a test took it away), the line goes to
    the standard library logger of the same name instead, for whatever handlers are there.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._stdlib = logging.getLogger(name)

    def _write(self, level: int, line: str) -> None:
        if _handler is not None and _handler in logging.root.handlers:
            _handler.write_line(line)
        else:
            self._stdlib.log(level, line)

    def debug(self, line: str) -> None:
        self._write(logging.DEBUG, line)

    def info(self, line: str) -> None:
        self._write(logging.INFO, line)

    def warning(self, line: str) -> None:
        self._write(logging.WARNING, line)

    def error(self, line: str) -> None:
        self._write(logging.ERROR, line)

    def critical(self, line: str) -> None:
        self._write(logging.CRITICAL, line)


_handler: JSONLinesHandler | None = None  # the one configure_logging installed last
_line_loggers: dict[str, _LineLogger] = {}


def _line_logger(name: str | None = None) -> _LineLogger:
    """structlog's logger factory: get_logger("payments.access") names its logger."""
    if name is None:
        name = _calling_module()
    if name not in _line_loggers:
        _line_loggers[name] = _LineLogger(name)
    return _line_loggers[name]


def _calling_module() -> str:
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        ("structlog", __name__)
    ):
        frame = frame.f_back
    return str(frame.f_globals.get("__name__", "?"))


def configure_logging(stream: IO[str] | None = None, level: int = logging.INFO) -> None:
    """Route structlog and the standard library (uvicorn, libraries) to JSON lines."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        scrub_secrets,  # before the traceback is made: exc_info is left for format_exc_info
        structlog.processors.TimeStamper(fmt="iso", utc=True),  # the clock, nothing to scrub
        add_process_id,
    ]
    rendered: list[Any] = [structlog.processors.format_exc_info, scrub_exception, render_json]
    structlog.configure(
        processors=[*shared, *rendered],
        logger_factory=_line_logger,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    handler = JSONLinesHandler(stream or sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendered],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    global _handler
    _handler = handler
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # one access line per request is ours
    # stripe-python writes two INFO lines per API call (request and response); the audit
    # line of each operation says what was asked of Stripe and how it ended. Its warnings
    # and errors still come through.
    logging.getLogger("stripe").setLevel(max(level, logging.WARNING))

"""The JSON lines the service writes: their fields and format, and no secret in any of them."""

import io
import json
import logging
import uuid

import pytest
import structlog

from entrypoints.http.request_context import new_request_id
from entrypoints.logs import REDACTED, ServiceId, scrub

CARD = "4242424242424242"
KEY = "sk_live_51Hx9aB2eZvKYlo2C1abcdef"
TOKEN = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"


def lines(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def test_our_lines_and_library_lines_are_json_with_the_same_common_fields(
    logs: io.StringIO,
) -> None:
    structlog.contextvars.bind_contextvars(request_id="trace-1")
    structlog.get_logger("payments.access").info(
        "request", method="GET", path="/api/payments/history", status=200, duration_ms=1.5
    )
    # a library's own logger (not uvicorn's: a server started by another test sets its level)
    logging.getLogger("some.library").info("Started server process [%d]", 42)
    structlog.get_logger("payments.audit").warning("payment.refund", note="café")

    for line in lines(logs):
        assert line == json.dumps(json.loads(line))  # json.dumps' own spacing, ASCII only
    access, library, audit = [json.loads(line) for line in lines(logs)]
    common = {"event", "request_id", "level", "logger", "timestamp", "pid"}
    assert set(access) == common | {"method", "path", "status", "duration_ms"}
    assert set(library) == common
    assert access["path"] == "/api/payments/history" and access["duration_ms"] == 1.5
    assert library["event"] == "Started server process [42]"
    assert (library["logger"], library["level"], library["request_id"]) == (
        "some.library",
        "info",
        "trace-1",
    )
    assert audit["note"] == "café" and audit["level"] == "warning"


def test_no_secret_reaches_a_line_whatever_field_or_exception_carries_it(
    logs: io.StringIO,
) -> None:
    audit = structlog.get_logger("payments.audit")
    for _ in range(2):  # a value is checked every time it is logged, not only the first
        audit.info(
            "payment.process",
            note=f"card {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]}",
            amount=int(CARD),
            nested={"authorization": "anything", "items": [KEY]},
            error=ValueError(TOKEN),
        )
    try:
        raise RuntimeError(f"stripe said {KEY}")
    except RuntimeError as error:
        audit.exception("payment.process")
        raised = error
    logging.getLogger("payments.test").error("header was %s", TOKEN, exc_info=raised)

    text = logs.getvalue()
    for secret in [CARD, CARD[:4] + " " + CARD[4:8], KEY, "eyJhbGci"]:
        assert secret not in text, secret
    first, second, failed, library = [json.loads(line) for line in lines(logs)]
    assert first == second | {"timestamp": first["timestamp"]}
    assert first["amount"] == REDACTED and first["note"] == f"card {REDACTED}"
    assert first["nested"] == {"authorization": REDACTED, "items": [REDACTED]}
    assert first["error"] == f"ValueError('{REDACTED}')"
    assert failed["exception"].endswith(f"RuntimeError: stripe said {REDACTED}")
    assert library["event"] == f"header was {REDACTED}"
    assert library["exception"].endswith(f"RuntimeError: stripe said {REDACTED}")


def test_plain_values_are_left_as_they_are() -> None:
    # random ids would, about one in 480, hold a run of digits passing Luhn: hidden (below)
    ids = ["0f3c2b9a8d7e4f6a9b1c2d3e4f5a6b7c", "6b88fa9f-9e55-5821-8aba-bff033083528"]
    for value in ["POST", "/api/payments/process", *ids, "", 201]:
        assert scrub(value) == value
        assert scrub(value) == value
    assert scrub(1234567890123) == 1234567890123  # 13 digits, not a card number
    assert scrub(12.34) == 12.34


def test_a_new_request_id_never_looks_like_a_card_number(monkeypatch: pytest.MonkeyPatch) -> None:
    card_like = uuid.UUID(CARD + "abcdefabcdefabcd")
    plain = uuid.UUID("0f3c2b9a8d7e4f6a9b1c2d3e4f5a6b7c")
    made = iter([card_like, plain])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(made))
    assert new_request_id() == plain.hex


def test_stripe_clients_own_info_lines_are_left_out_and_its_warnings_kept(
    logs: io.StringIO,
) -> None:
    from stripe._util import log_info  # what stripe-python calls for every request

    log_info("Request to Stripe api", method="post", path="/v1/payment_intents")
    logging.getLogger("stripe").warning("Stripe API error received: rate_limit")
    [line] = [json.loads(line) for line in lines(logs)]
    assert line["logger"] == "stripe" and line["level"] == "warning"
    assert "rate_limit" in line["event"]


def test_an_id_the_service_made_is_logged_whole_and_a_clients_text_is_not() -> None:
    made = "723f7e2d-aaff-4864-8007-88759cf5aef1"  # 4864-8007-88759 passes Luhn
    assert scrub(made) == f"723f7e2d-aaff-{REDACTED}cf5aef1"
    assert scrub(ServiceId(made)) == made and type(scrub(ServiceId(made))) is str
    assert scrub({"payment_id": ServiceId(made), "sent": made}) == {
        "payment_id": made,
        "sent": f"723f7e2d-aaff-{REDACTED}cf5aef1",
    }


def test_a_card_number_beside_its_expiry_or_code_never_reaches_a_line() -> None:
    for text in ("/api/payment-methods/4242424242424242 1226", "4242 4242 4242 4242 12 26"):
        assert "4242" not in json.dumps(scrub({"path": text, "note": f"sent {text}"}))


def test_credentials_in_a_url_never_reach_a_line_and_its_host_does() -> None:
    line = json.dumps(
        scrub(
            {
                "message": "outbound event e1 parked for "
                "https://platform:hunter2@hooks.example.com/in?token=t0ps3cret&topic=pay: 503",
                "url": "https://hooks.example.com/in?Signature=abc123&topic=pay",
            }
        )
    )
    assert "hunter2" not in line and "t0ps3cret" not in line and "abc123" not in line
    assert "hooks.example.com/in" in line and "topic=pay" in line

"""The course platform hears of every settled change, signed, in order, at least once."""

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client import REGISTRY

from entrypoints.cli import main
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.cli_process import cli_in_process
from tests.conftest import bearer, eventually
from tests.outbound_receiver import EVENTS_SECRET, Receiver, receiving, verify
from tests.stripe_fixtures import dispute, event, payment_intent, signed

Client = TestClient[Any]
VISA = {"amount": 9999, "currency": "usd", "paymentMethodId": "pm_card_visa"}
ADMIN = bearer("ops-1", "admin")


def with_events(env: dict[str, str], *urls: str) -> dict[str, str]:
    return {
        **env,
        "PAYMENTS_EVENTS_WEBHOOK_URLS": ",".join(urls),
        "PAYMENTS_EVENTS_SIGNING_SECRET": EVENTS_SECRET,
    }


@contextmanager
def service(env: dict[str, str], retry_base: float = 0.05) -> Iterator[Client]:
    """The app with its projections and dispatchers; retries start at 50 ms instead of 1 s."""
    settings = replace(Settings.from_env(env), events_retry_base=retry_base)
    container = build_container(settings)
    with TestClient(create_app(container)) as client:
        yield client


def charge(client: Client, user: str, key: str, **body: Any) -> dict[str, Any]:
    headers = {**bearer(user), "Idempotency-Key": key}
    made = client.post("/api/payments/process", json={**VISA, **body}, headers=headers)
    assert made.status_code in (201, 402), made.text
    answer: dict[str, Any] = made.json()
    return answer


def tries_counted(outcome: str) -> float:
    labels = {"type": "payment.succeeded", "outcome": outcome}
    return REGISTRY.get_sample_value("outbound_events_total", labels) or 0.0


def types_of(receiver: Receiver, payment_id: str, count: int) -> list[str]:
    events = eventually(lambda: len(receiver.events_of(payment_id)) >= count, timeout=15)
    assert events, f"only {receiver.events_of(payment_id)} arrived"
    return [e["type"] for e in receiver.events_of(payment_id)]


def test_each_settled_change_reaches_the_receiver_signed_and_in_order(
    backend_env: dict[str, str], user_id: str
) -> None:
    with receiving() as receiver, service(with_events(backend_env, receiver.url)) as client:
        paid = charge(client, user_id, "o-1")["paymentId"]
        half = {"paymentId": paid, "amount": 5000}
        assert client.post("/api/payments/refund", json=half, headers=ADMIN).status_code == 200
        rest = client.post("/api/payments/refund", json={"paymentId": paid}, headers=ADMIN)
        assert rest.status_code == 200
        declined = charge(client, user_id, "o-2", paymentMethodId="pm_card_chargeDeclined")
        secure = charge(client, user_id, "o-3", paymentMethodId="pm_card_authenticationRequired")
        intent = secure["stripePaymentIntentId"]
        stripe_event = event(
            "payment_intent.succeeded", payment_intent(intent, "succeeded", amount=9999)
        )
        assert client.post("/api/webhooks/stripe", **signed(stripe_event)).status_code == 200
        for kind, status in (("created", "needs_response"), ("closed", "won")):
            case = dispute("dp_outbound_1", intent, 9999, status)
            sent = client.post(
                "/api/webhooks/stripe", **signed(event(f"charge.dispute.{kind}", case))
            )
            assert sent.status_code == 200

        assert types_of(receiver, paid, 3) == [
            "payment.succeeded", "payment.refunded", "payment.refunded",
        ]  # fmt: skip
        assert types_of(receiver, declined["paymentId"], 1) == ["payment.failed"]
        assert types_of(receiver, secure["paymentId"], 4) == [
            "payment.requires_action", "payment.succeeded",
            "payment.dispute_opened", "payment.dispute_closed",
        ]  # fmt: skip

        for call in receiver.acknowledged():
            assert verify(call.raw, call.signature), "the signature does not verify"
            assert call.content_type == "application/json"
            assert call.event_id == call.body["id"]
            assert b"clientSecret" not in call.raw and b"client_secret" not in call.raw
        refunds = receiver.events_of(paid)
        assert [e["sequence"] for e in refunds] == sorted({e["sequence"] for e in refunds})
        assert refunds[1]["data"]["payment"]["status"] == "partially_refunded"
        assert refunds[1]["data"]["refund"]["amount"] == 5000
        assert refunds[1]["data"]["refund"]["status"] == "succeeded"
        assert refunds[2]["data"]["refund"]["amount"] == 4999
        now = client.get(f"/api/payments/{paid}", headers=bearer(user_id)).json()
        assert refunds[2]["data"]["payment"] == now  # what the owner reads over HTTP
        assert receiver.events_of(declined["paymentId"])[0]["data"]["payment"]["failureCode"]
        ready = client.get("/health/ready").json()["components"]["outboundEvents"]
        assert ready["status"] == "ok"
        assert ready["parked"] == 0


def test_a_refused_event_comes_again_later_with_the_same_id_and_body(
    backend_env: dict[str, str], user_id: str
) -> None:
    before = {outcome: tries_counted(outcome) for outcome in ("retrying", "delivered")}
    with (
        receiving(refuse=2) as receiver,
        service(with_events(backend_env, receiver.url), retry_base=0.4) as client,
    ):
        paid = charge(client, user_id, "o-1")["paymentId"]
        assert types_of(receiver, paid, 1) == ["payment.succeeded"]
        tries = [c for c in receiver.calls if c.body["data"]["payment"]["id"] == paid]
        assert [c.answered for c in tries] == [500, 500, 200]
        assert len({c.event_id for c in tries}) == 1
        assert len({c.raw for c in tries}) == 1
        # after each refusal a backoff from 0.4 s (1 s in production), doubling, jittered
        assert tries[1].at - tries[0].at >= 0.4 * 0.75
        assert tries[2].at - tries[1].at >= 0.8 * 0.75
        counted = eventually(lambda: tries_counted("delivered") == before["delivered"] + 1)
        assert counted
        assert tries_counted("retrying") == before["retrying"] + 2


def test_a_receiver_down_during_five_charges_gets_all_five_once_back(
    backend_env: dict[str, str], user_id: str, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}/hooks/payments"
    with service(with_events(backend_env, url)) as client:
        paid = [charge(client, user_id, f"o-{n}")["paymentId"] for n in range(5)]

        def outbound() -> dict[str, Any]:
            found: dict[str, Any] = client.get("/health/ready").json()["components"]
            return dict(found["outboundEvents"])

        assert eventually(lambda: outbound()["lag"] >= 1, timeout=10), outbound()
        lag = eventually(lambda: REGISTRY.get_sample_value("outbound_event_lag_seconds"), 10)
        assert lag and lag >= 1
        with receiving(port=closed_port) as receiver:
            arrived = eventually(lambda: len(receiver.acknowledged()) >= 5, timeout=20)
            assert arrived, f"{len(receiver.acknowledged())} of 5 arrived"
            assert {c.body["data"]["payment"]["id"] for c in receiver.acknowledged()} == set(paid)
            assert len(receiver.acknowledged()) == 5
            assert eventually(lambda: outbound()["lag"] == 0), outbound()


def test_events_not_delivered_before_a_restart_are_delivered_after_it(
    backend_env: dict[str, str], user_id: str, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}/hooks/payments"
    env = with_events(backend_env, url)
    with service(env) as client:
        paid = [charge(client, user_id, f"o-{n}")["paymentId"] for n in range(3)]
    with receiving(port=closed_port) as receiver, service(env):
        arrived = eventually(lambda: len(receiver.acknowledged()) >= 3, timeout=20)
        assert arrived, f"{len(receiver.acknowledged())} of 3 arrived"
        assert sorted(c.body["data"]["payment"]["id"] for c in receiver.acknowledged()) == sorted(
            paid
        )


def test_events_left_at_an_endpoint_no_longer_configured_are_shown_and_moved(
    backend_env: dict[str, str],
    user_id: str,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The receiver's address changed while three events still waited for the old one."""
    old = f"http://127.0.0.1:{closed_port}/hooks/payments"
    with service(with_events(backend_env, old)) as client:
        paid = [charge(client, user_id, f"o-{n}")["paymentId"] for n in range(3)]
    with receiving() as receiver:
        new = receiver.url
        env = with_events(backend_env, new)
        with service(env) as client:
            ready = client.get("/health/ready").json()["components"]["outboundEvents"]
            assert (ready["status"], ready["stranded"]) == ("degraded", 3)
            assert receiver.acknowledged() == []

            cli_in_process(monkeypatch, with_events(backend_env, old, new))
            assert main(["events", "move", "--from", old, "--to", new]) == 2
            assert "--from is still configured" in capsys.readouterr().err
            cli_in_process(monkeypatch, env)
            assert main(["events", "move", "--from", old, "--to", "http://elsewhere/"]) == 2
            assert "--to must be an endpoint configured now" in capsys.readouterr().err
            assert main(["events", "move", "--from", old, "--to", new]) == 0
            said = capsys.readouterr().out.splitlines()
            assert any(line.startswith("3 deliveries moved to the new endpoint") for line in said)

            arrived = eventually(lambda: len(receiver.acknowledged()) >= 3, timeout=20)
            assert arrived, f"{len(receiver.acknowledged())} of 3 arrived"
            delivered = sorted(c.body["data"]["payment"]["id"] for c in receiver.acknowledged())
            assert delivered == sorted(paid)
            ready = client.get("/health/ready").json()["components"]["outboundEvents"]
            assert (ready["status"], ready["stranded"]) == ("ok", 0)
        assert main(["events", "move", "--from", old, "--to", new]) == 1  # nothing left there


@pytest.mark.parametrize("backend_env", ["sqlite"], indirect=True)
def test_without_endpoints_nothing_is_put_in_the_outbox(
    backend_env: dict[str, str], user_id: str
) -> None:
    with service(backend_env) as client:
        charge(client, user_id, "o-1")
        assert "outboundEvents" not in client.get("/health/ready").json()["components"]


@pytest.mark.parametrize("backend_env", ["sqlite"], indirect=True)
def test_with_encryption_on_the_outbox_holds_ids_only(
    backend_env: dict[str, str], user_id: str
) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    env = {**backend_env, "PAYMENTS_ENCRYPTION_KEY": key}
    with receiving() as receiver, service(with_events(env, receiver.url)) as client:
        secret_note = {"courseTitle": "Private course title 7f3a"}
        paid = charge(client, user_id, "o-1", metadata=secret_note)["paymentId"]
        assert types_of(receiver, paid, 1) == ["payment.succeeded"]
        assert receiver.events_of(paid)[0]["data"]["payment"]["metadata"] == secret_note
    stored = b"".join(p.read_bytes() for p in Path(env["PAYMENTS_DATA_DIR"]).glob("outbound*"))
    assert paid.encode() in stored  # the rows are there, by id
    for private in (user_id, "Private course title 7f3a"):
        assert private.encode() not in stored, private

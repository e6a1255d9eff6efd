"""Metrics and logs: what an on-call engineer reads to know what happened, and to whom."""

import io
import json
import logging
from typing import Any

from dependency_injector import providers
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.simulated_gateway import SimulatedGateway
from application.ports import ChargeOutcome, ChargeRequest, GatewayUnavailable
from domain.payment_status import payment_id_for
from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.logs import scrub
from tests.conftest import JWT_SECRET, ROOT, WEBHOOK_SECRET, bearer, make_token

Client = TestClient[Any]
VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa"}
DESIGN_METRICS = {
    "payments_total", "payment_processing_seconds", "webhook_events_total",
    "webhook_processing_seconds", "payment_errors_total", "refunds_total",
    "duplicate_payment_attempts_total", "outbound_events_total", "outbound_event_lag_seconds",
}  # fmt: skip


def samples(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_metrics_count_payments_by_status_errors_by_code_and_refunds(
    client: Client, user_id: str
) -> None:
    before = samples(client)
    me = bearer(user_id)
    charged = client.post("/api/payments/process", json=VISA, headers=me).json()
    declined = {**VISA, "paymentMethodId": "pm_card_chargeDeclined"}
    assert client.post("/api/payments/process", json=declined, headers=me).status_code == 402
    assert client.get("/api/payments/history").status_code == 401
    refund = {"paymentId": charged["paymentId"], "amount": 1000}
    assert (
        client.post("/api/payments/refund", json=refund, headers=bearer("ops", "admin")).status_code
        == 200
    )

    after = samples(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("payments_total", status="succeeded") == 1
    assert grew("payments_total", status="failed") == 1
    assert grew("payment_processing_seconds_count") == 2
    assert grew("payment_errors_total", code="CARD_DECLINED") == 1
    assert grew("payment_errors_total", code="UNAUTHORIZED") == 1
    assert grew("refunds_total", status="succeeded") == 1
    exposition = client.get("/metrics").text
    for name in DESIGN_METRICS:
        assert f"# TYPE {name} " in exposition, name
    assert "litestar_requests_total" in exposition  # Litestar's request metrics


def test_every_line_is_json_and_a_request_can_be_traced_by_its_id(
    client: Client, user_id: str, logs: io.StringIO
) -> None:
    given = client.post(
        "/api/payments/process",
        json=VISA,
        headers={**bearer(user_id), "X-Request-ID": "trace-me-42"},
    )
    assert given.headers["X-Request-ID"] == "trace-me-42"
    made = client.get(
        "/api/payments/history", headers={**bearer(user_id), "X-Request-ID": "bad id;drop"}
    )
    generated = made.headers["X-Request-ID"]
    assert generated != "bad id;drop" and len(generated) == 32

    records = lines(logs)
    traced = [r for r in records if r.get("request_id") == "trace-me-42"]
    audit = next(r for r in traced if r["event"] == "payment.process")
    assert audit["outcome"] == "succeeded"
    assert audit["payment_id"] == given.json()["paymentId"]
    assert audit["stripe_payment_intent_id"] == given.json()["stripePaymentIntentId"]
    assert audit["user_id"] == user_id and audit["amount"] == 2500 and audit["duration_ms"] >= 0
    access = next(r for r in traced if r["event"] == "request")
    assert access["status"] == 201 and access["user_id"] == user_id
    assert access["path"] == "/api/payments/process" and access["duration_ms"] >= 0
    assert any(r.get("request_id") == generated and r["event"] == "request" for r in records)


def test_a_payment_whose_id_has_a_luhn_valid_run_is_logged_by_its_whole_id(
    client: Client, user_id: str, logs: io.StringIO
) -> None:
    """About one payment id in 480 has digit groups that join into a run passing Luhn: its
    audit lines still carry the id, as the store does. An id a client sends is scrubbed."""
    keys = (k for k in (f"order-{n}" for n in range(100_000)) if _hidden(user_id, k))
    key, declined_key = next(keys), next(keys)
    charged = client.post(
        "/api/payments/process", json=VISA, headers={**bearer(user_id), "Idempotency-Key": key}
    ).json()
    assert charged["paymentId"] == str(payment_id_for(user_id, key))
    declined = client.post(
        "/api/payments/process",
        json={**VISA, "paymentMethodId": "pm_card_chargeDeclined"},
        headers={**bearer(user_id), "Idempotency-Key": declined_key},
    ).json()
    assert declined["paymentId"] == str(payment_id_for(user_id, declined_key))
    refunded = client.post(
        "/api/payments/refund",
        json={"paymentId": charged["paymentId"]},
        headers=bearer("ops", "admin"),
    )
    assert refunded.status_code == 200
    unknown = "abcdefab-4111-1111-1111-1111abcdefab"  # a card number in the shape of an id
    missing = client.post(
        "/api/payments/refund", json={"paymentId": unknown}, headers=bearer("ops", "admin")
    )
    assert missing.status_code == 404

    audit = [r for r in lines(logs) if r["event"].startswith("payment.")]
    assert [(r["event"], r["outcome"], r["payment_id"]) for r in audit] == [
        ("payment.process", "succeeded", charged["paymentId"]),
        ("payment.process", "declined", declined["paymentId"]),
        ("payment.refund", "refunded", charged["paymentId"]),
        ("payment.refund", "error", scrub(unknown)),
    ]
    assert "4111" not in scrub(unknown)


def _hidden(user_id: str, key: str) -> bool:
    """Whether the payment id of this user and key would lose digits as a client's text."""
    made = str(payment_id_for(user_id, key))
    return scrub(made) != made


def test_a_declined_payment_and_a_refund_each_leave_an_audit_line(
    client: Client, user_id: str, logs: io.StringIO
) -> None:
    declined = {**VISA, "paymentMethodId": "pm_card_chargeDeclinedInsufficientFunds"}
    failed = client.post("/api/payments/process", json=declined, headers=bearer(user_id)).json()
    charged = client.post("/api/payments/process", json=VISA, headers=bearer(user_id)).json()
    client.post(
        "/api/payments/refund",
        json={"paymentId": charged["paymentId"]},
        headers=bearer("ops", "admin"),
    )

    audit = [r for r in lines(logs) if r["event"].startswith("payment.")]
    assert [(r["event"], r["outcome"]) for r in audit] == [
        ("payment.process", "declined"), ("payment.process", "succeeded"),
        ("payment.refund", "refunded"),
    ]  # fmt: skip
    assert audit[0]["code"] == "INSUFFICIENT_FUNDS"
    assert audit[0]["payment_id"] == failed["paymentId"]
    assert audit[2]["stripe_refund_id"].startswith("re_") and audit[2]["user_id"] == "ops"


def test_no_secret_of_a_full_flow_reaches_the_logs(
    client: Client, user_id: str, logs: io.StringIO
) -> None:
    token = make_token(user_id)
    me = {"Authorization": f"Bearer {token}"}
    three_ds = {**VISA, "paymentMethodId": "pm_card_authenticationRequired"}
    client_secrets = [
        client.post("/api/payments/process", json=body, headers=me).json()["clientSecret"]
        for body in (VISA, three_ds)
    ]
    card, cvc = "4242424242424242", "737"
    with_card = {**VISA, "metadata": {"note": f"card {card} cvc {cvc}"}}
    assert client.post("/api/payments/process", json=with_card, headers=me).status_code == 400
    assert (
        client.post("/api/payments/process", json={**VISA, "cvc": cvc}, headers=me).status_code
        == 400
    )
    logging.getLogger("payments.test").warning("header was %s", f"Bearer {token}")

    text = logs.getvalue()
    assert '"event": "request"' in text and text.count("\n") >= 5
    for secret in [token, JWT_SECRET, WEBHOOK_SECRET, card, "4242 4242", *client_secrets]:
        assert secret not in text, secret
    assert f"cvc {cvc}" not in text


def test_the_dashboard_charts_the_original_monitoring_list_from_metrics_we_export(
    client: Client,
) -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "payments-dashboard.json").read_text())
    panels = {p["title"]: [t["expr"] for t in p["targets"]] for p in dashboard["panels"]}
    for wanted in ["Success rate", "Processing time", "Webhook latency", "Errors by code",
                   "Refund rate", "Duplicate attempts"]:  # fmt: skip
        assert wanted in panels, wanted
    exported = {name for name, _ in samples(client)}
    for expressions in panels.values():
        for expr in expressions:
            used = {n for n in DESIGN_METRICS | exported if n in expr}
            assert used, f"{expr} uses no metric the service exports"


class UnreachableGateway(SimulatedGateway):
    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        raise GatewayUnavailable("connection reset by peer")


def test_a_provider_outage_is_logged_with_the_request_and_user_and_counted(
    container: Container, user_id: str, logs: io.StringIO
) -> None:
    container.gateway.override(providers.Object(UnreachableGateway()))
    with TestClient(create_app(container)) as client:
        before = value(samples(client), "payment_errors_total", code="STRIPE_ERROR")
        answer = client.post(
            "/api/payments/process",
            json=VISA,
            headers={**bearer(user_id), "X-Request-ID": "outage-1"},
        )
        after = value(samples(client), "payment_errors_total", code="STRIPE_ERROR")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "STRIPE_ERROR"
    assert after - before == 1
    traced = [r for r in lines(logs) if r.get("request_id") == "outage-1"]
    assert {r["user_id"] for r in traced} == {user_id}
    assert any(r["level"] == "error" and "STRIPE_ERROR" in r["event"] for r in traced)
    audit = next(r for r in traced if r["event"] == "payment.process")
    assert (
        audit["outcome"] == "error"
        and audit["code"] == "STRIPE_ERROR"
        and audit["payment_id"] is None
    )

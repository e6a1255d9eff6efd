"""`payment-service serve` on the embedded default: the simulated gateway's webhooks come back."""

import time

import httpx

from tests.conftest import make_token
from tests.e2e.test_serve_subprocess import server  # noqa: F401 - the running service


def counted(base: str, event_type: str) -> float:
    """Deliveries of this type that the service took in (applied, or already known)."""
    total = 0.0
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        for outcome in ("applied", "no_change"):
            if line.startswith(f'webhook_events_total{{outcome="{outcome}",type="{event_type}"}}'):
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_charge_and_refund_webhooks_reach_the_running_service(server: str) -> None:  # noqa: F811
    user = {"Authorization": f"Bearer {make_token('offline-user')}"}
    admin = {"Authorization": f"Bearer {make_token('ops', 'admin')}"}
    body = {"amount": 4200, "currency": "usd", "paymentMethodId": "pm_card_visa"}
    paid = httpx.post(f"{server}/api/payments/process", json=body, headers=user).json()
    refund = {"paymentId": paid["paymentId"], "amount": 1200}
    assert (
        httpx.post(f"{server}/api/payments/refund", json=refund, headers=admin).status_code == 200
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if counted(server, "payment_intent.succeeded") and counted(server, "refund.created"):
            break
        time.sleep(0.1)
    assert counted(server, "payment_intent.succeeded") == 1
    assert counted(server, "refund.created") == 1
    final = httpx.get(f"{server}/api/payments/{paid['paymentId']}", headers=user).json()
    assert final["status"] == "partially_refunded" and final["refundedAmount"] == 1200
    assert len(final["refunds"]) == 1, "the webhook matched the service's own refund"

"""The requests each benchmark sends: charges, signed webhooks, history pages."""

import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt

from bench.loadgen import build_request

JWT_SECRET = "bench-jwt-secret-0123456789-0123456789-abcdef"
WEBHOOK_SECRET = "whsec_bench_0123456789abcdef"


def service_env(database_url: str, redis_url: str, data_dir: str) -> dict[str, str]:
    """The service's environment for a benchmark: PostgreSQL, Redis, no rate limits."""
    return {
        "PAYMENTS_DATABASE_URL": database_url,
        "PAYMENTS_REDIS_URL": redis_url,
        "PAYMENTS_DATA_DIR": data_dir,
        "PAYMENTS_JWT_SECRET": JWT_SECRET,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PAYMENTS_RATE_LIMIT_PER_MINUTE": "0",
        "PAYMENTS_WEBHOOK_RATE_LIMIT_PER_MINUTE": "0",
        # each figure measures one thing: no simulated webhooks behind every charge
        "PAYMENTS_SIMULATED_WEBHOOK_URL": "off",
    }


def token(user_id: str) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "roles": [], "iat": now, "exp": now + 7200}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def charge_requests(
    count: int, users: int = 200, method: str = "pm_card_visa", user_prefix: str = "bench-user"
) -> list[bytes]:
    tokens = [token(f"{user_prefix}-{i}") for i in range(users)]
    run = uuid.uuid4().hex[:8]
    requests = []
    for i in range(count):
        body = json.dumps(
            {"amount": 1000 + i % 5000, "currency": "usd", "paymentMethodId": method}
        ).encode()
        headers = {
            "Authorization": f"Bearer {tokens[i % users]}",
            "Content-Type": "application/json",
            # Letters before the digits: a run id of eight digits and a five-digit number, standing
            # apart, could pass Luhn and be refused as a card number (VALIDATION_ERROR).
            "Idempotency-Key": f"bench-r{run}-n{i}",
        }
        requests.append(build_request("POST", "/api/payments/process", headers, body))
    return requests


def pending_payments(base_url: str, count: int) -> list[tuple[str, str]]:
    """Payments left in requires_action (3-D Secure), each ready for a real success webhook."""
    made = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for i in range(count):
            headers = {
                "Authorization": f"Bearer {token(f'bench-3ds-{i % 200}')}",
                "Idempotency-Key": f"bench-3ds-{uuid.uuid4().hex}",
            }
            body = {
                "amount": 2000,
                "currency": "usd",
                "paymentMethodId": "pm_card_authenticationRequired",
            }
            answer = client.post("/api/payments/process", json=body, headers=headers).json()
            assert "paymentId" in answer, answer
            made.append((answer["paymentId"], answer["stripePaymentIntentId"]))
    return made


def signed(payload: bytes, secret: str = WEBHOOK_SECRET) -> str:
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256)
    return f"t={stamp},v1={digest.hexdigest()}"


def webhook_requests(payments: list[tuple[str, str]]) -> list[bytes]:
    requests = []
    for payment_id, intent_id in payments:
        event = {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": intent_id,
                    "object": "payment_intent",
                    "amount": 2000,
                    "currency": "usd",
                    "status": "succeeded",
                    "metadata": {"payment_id": payment_id},
                }
            },
        }
        payload = json.dumps(event).encode()
        headers = {"Content-Type": "application/json", "Stripe-Signature": signed(payload)}
        requests.append(build_request("POST", "/api/webhooks/stripe", headers, payload))
    return requests


def history_requests(user_id: str, offset: int, count: int) -> list[bytes]:
    headers = {"Authorization": f"Bearer {token(user_id)}"}
    path = f"/api/payments/history?limit=20&offset={offset}"
    return [build_request("GET", path, headers) for _ in range(count)]

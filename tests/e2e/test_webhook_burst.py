"""Stripe's genuine deliveries are never turned away for volume; forged ones are limited."""

from collections import Counter
from collections.abc import Callable

from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.stripe_fixtures import event, new_id, payment_intent, signed

BURST = 5_000
LIMIT = 600  # the default per-address limit, per minute


def test_a_burst_of_5000_signed_events_from_one_address_is_all_taken_in(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container]
) -> None:
    env = {**base_env, "PAYMENTS_WEBHOOK_RATE_LIMIT_PER_MINUTE": str(LIMIT)}
    with TestClient(create_app(make_container(env), run_projections=False)) as client:
        statuses = Counter(
            client.post(
                "/api/webhooks/stripe",
                **signed(
                    event("payment_intent.succeeded", payment_intent(new_id("pi"), "succeeded"))
                ),
            ).status_code
            for _ in range(BURST)
        )
        assert statuses == Counter({200: BURST})

        forged = [
            client.post(
                "/api/webhooks/stripe",
                **signed(event("payment_intent.succeeded", {}), secret="whsec_not_ours"),
            ).status_code
            for _ in range(LIMIT + 1)
        ]
    assert set(forged[:LIMIT]) == {400}, "a forged delivery is refused for its signature"
    assert forged[LIMIT] == 429, "and past the limit, refused for volume"

"""With NATS configured, a JetStream consumer sees each outbound event once."""

import asyncio
import os
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import nats
import pytest
from litestar.testing import TestClient
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY

from adapters.background_loop import BackgroundLoop
from adapters.nats_sink import STREAM, NatsSink
from application.outbox_ports import OutboundMessage
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.conftest import bearer, eventually, unavailable


@pytest.fixture
def nats_url() -> str:
    url = os.environ.get("TEST_NATS_URL")
    if not url:
        unavailable("NATS (set TEST_NATS_URL)")
    try:
        asyncio.run(_last_sequence(url))
    except Exception:
        unavailable("NATS with JetStream")
    return str(url)


async def _last_sequence(url: str) -> int:
    client = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=0)
    try:
        info = await client.jetstream().stream_info(STREAM)
        return int(info.state.last_seq)
    except NotFoundError:
        return 0
    finally:
        await client.close()


async def _published_after(url: str, sequence: int) -> list[Any]:
    """Every message of the stream after `sequence`, through a consumer of our own."""
    client = await nats.connect(url, connect_timeout=3)
    try:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=sequence + 1
        )
        consumer = await client.jetstream().pull_subscribe("payments.>", config=config)
        messages: list[Any] = []
        while True:
            try:
                batch = await consumer.fetch(100, timeout=1)
            except nats.errors.TimeoutError:
                return messages
            for message in batch:
                await message.ack()
            messages.extend(batch)
    finally:
        await client.close()


def test_a_jetstream_consumer_sees_each_event_once(
    backend_env: dict[str, str], nats_url: str, user_id: str
) -> None:
    start = asyncio.run(_last_sequence(nats_url))
    env = {**backend_env, "PAYMENTS_EVENTS_NATS_URL": nats_url}
    container = build_container(replace(Settings.from_env(env), events_retry_base=0.05))
    outbox = container.outbound.outbox()

    def delivered() -> list[Any]:
        rows = outbox.rows(parked_only=False, limit=100)
        return [r for r in rows if r.status == "delivered"]

    def sent_again() -> float:
        labels = {"type": "payment.succeeded", "outcome": "delivered"}
        return REGISTRY.get_sample_value("outbound_events_total", labels) or 0.0

    with TestClient(create_app(container)) as client:
        body = {"amount": 4200, "currency": "usd", "paymentMethodId": "pm_card_visa"}
        made = client.post("/api/payments/process", json=body, headers=bearer(user_id))
        paid = made.json()["paymentId"]
        admin = bearer("ops-1", "admin")
        refund = {"paymentId": paid}
        assert client.post("/api/payments/refund", json=refund, headers=admin).is_success
        assert eventually(lambda: len(delivered()) == 2, timeout=15)

        # sent again (as after a crash between publish and record): JetStream drops the copy
        first = delivered()[-1].entry.event_id
        sent = sent_again()
        assert outbox.redeliver(event_id=first, since=None, now=datetime.now(UTC)) == 1
        assert eventually(lambda: sent_again() == sent + 1)

    ours = [
        m
        for m in asyncio.run(_published_after(nats_url, start))
        if UUID(m.headers["Nats-Msg-Id"]) in {r.entry.event_id for r in delivered()}
    ]
    assert sorted(m.subject for m in ours) == [
        "payments.payment.refunded",
        "payments.payment.succeeded",
    ]
    assert set(Counter(m.headers["Nats-Msg-Id"] for m in ours).values()) == {1}
    assert all(paid.encode() in m.data for m in ours)


def test_the_stream_is_created_when_missing(nats_url: str) -> None:
    async def drop_stream() -> None:
        client = await nats.connect(nats_url, connect_timeout=3)
        try:
            await client.jetstream().delete_stream(STREAM)
        except NotFoundError:
            pass
        finally:
            await client.close()

    asyncio.run(drop_stream())
    loop = BackgroundLoop()
    sink = NatsSink(nats_url, loop)
    try:
        sink.send(
            OutboundMessage("0b6c3f2e-5d1e-4a61-9c1f-3a8f0d6e2b11", "payment.succeeded", b"{}")
        )
    finally:
        sink.close()
        loop.close()
    assert asyncio.run(_last_sequence(nats_url)) >= 1

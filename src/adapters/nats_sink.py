"""Outbound events to NATS JetStream (nats-py): stream PAYMENTS, subject payments.<type>.

`Nats-Msg-Id` is the event id, so JetStream drops a second copy within its duplicate window.
"""

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from adapters.background_loop import BackgroundLoop
from application.outbound_events import NATS_ENDPOINT
from application.outbox_ports import DeliveryFailed, OutboundMessage

STREAM = "PAYMENTS"
SUBJECTS = ["payments.>"]
TIMEOUT_SECONDS = 10.0


def subject_for(event_type: str) -> str:
    return f"payments.{event_type}"


class NatsSink:
    """Publishes each event and waits for JetStream's acknowledgement."""

    endpoint = NATS_ENDPOINT

    def __init__(self, url: str, loop: BackgroundLoop, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.loop = loop
        self.timeout = timeout
        self._client: Client | None = None
        self._stream: JetStreamContext | None = None

    def send(self, message: OutboundMessage) -> None:
        try:
            self.loop.run(self._publish(message), self.timeout)
        except TimeoutError:
            raise DeliveryFailed(f"NATS did not acknowledge within {self.timeout:g} s") from None
        except Exception as error:  # nats-py raises many kinds; each is a failed try
            raise DeliveryFailed(f"NATS {type(error).__name__}: {error}") from None

    async def _publish(self, message: OutboundMessage) -> None:
        stream = await self._jetstream()
        await stream.publish(
            subject_for(message.type),
            message.body,
            timeout=self.timeout,
            stream=STREAM,
            headers={"Nats-Msg-Id": message.event_id, "Content-Type": "application/json"},
        )

    async def _jetstream(self) -> JetStreamContext:
        if self._client is not None and self._stream is not None and self._client.is_connected:
            return self._stream
        await self.aclose()
        client = await nats.connect(
            self.url, connect_timeout=5, max_reconnect_attempts=3, allow_reconnect=True
        )
        stream = client.jetstream()
        try:
            await stream.stream_info(STREAM)
        except NotFoundError:
            await stream.add_stream(name=STREAM, subjects=SUBJECTS)
        self._client, self._stream = client, stream
        return stream

    async def aclose(self) -> None:
        client, self._client, self._stream = self._client, None, None
        if client is not None and not client.is_closed:
            await client.close()

    def close(self) -> None:
        if self._client is not None:
            try:
                self.loop.run(self.aclose(), 5.0)
            except Exception:  # closing: nothing left to deliver to
                self._client = None

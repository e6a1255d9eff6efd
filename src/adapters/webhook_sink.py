"""Outbound events over HTTP, signed with Stripe's scheme so receivers know how to check them.

`Payments-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. A 2xx within
the timeout acknowledges; the response body is never read, so a huge one costs nothing.
"""

import hashlib
import hmac
import time
from collections.abc import Callable

import httpx

from adapters.background_loop import BackgroundLoop
from application.outbox_ports import DeliveryFailed, OutboundMessage

TIMEOUT_SECONDS = 10.0


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookSink:
    """POSTs each event to one URL; anything but a 2xx in time is a failed try."""

    def __init__(
        self,
        url: str,
        secret: str,
        loop: BackgroundLoop,
        *,
        timeout: float = TIMEOUT_SECONDS,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.endpoint = url
        self.secret = secret
        self.loop = loop
        self.timeout = timeout
        self.now = now
        self._client: httpx.AsyncClient | None = None

    def send(self, message: OutboundMessage) -> None:
        try:
            status = self.loop.run(self._post(message), self.timeout)
        except TimeoutError:
            raise DeliveryFailed(f"no answer within {self.timeout:g} s") from None
        except (httpx.HTTPError, OSError) as error:
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"HTTP {status}")

    async def _post(self, message: OutboundMessage) -> int:
        if self._client is None:  # made on the loop that uses it
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        headers = {
            "Content-Type": "application/json",
            "Payments-Event-Id": message.event_id,
            "Payments-Signature": signature_header(self.secret, int(self.now()), message.body),
            "User-Agent": "payment-service-events/1",
        }
        async with self._client.stream(
            "POST", self.endpoint, content=message.body, headers=headers
        ) as response:
            return response.status_code

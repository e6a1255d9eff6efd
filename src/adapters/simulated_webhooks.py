"""Stripe's webhooks for the simulated gateway: signed events posted to the service itself."""

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from stripe import WebhookSignature

log = logging.getLogger(__name__)
Event = dict[str, Any]


class WebhookSender:
    """Posts each event from a background thread, retrying a refusal the way Stripe does."""

    def __init__(self, url: str, secret: str, *, attempts: int = 6, backoff: float = 0.5) -> None:
        self.url, self._secret = url, secret
        self.attempts, self.backoff = attempts, backoff
        self._queue: queue.Queue[Event] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, event: Event) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
                self._thread.start()
        self._queue.put(event)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was delivered or given up on."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                self._deliver(event)
            finally:
                self._queue.task_done()

    def _deliver(self, event: Event) -> None:
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                if self._post(event) < 300:
                    return
            except (urllib.error.URLError, OSError):
                continue
        log.warning("webhook %s (%s) was not accepted", event["id"], event["type"])

    def _post(self, event: Event) -> int:
        payload = json.dumps(event)
        request = urllib.request.Request(  # noqa: S310 - the URL is the service's own, from settings
            self.url,
            data=payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": WebhookSignature.generate_signature_header(
                    payload, self._secret
                ),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)


def webhook_sender(url: str | None, secret: str) -> WebhookSender | None:
    return WebhookSender(url, secret) if url else None


def stripe_event(event_type: str, obj: dict[str, Any], token: str) -> Event:
    return {
        "id": f"evt_sim_{token}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }

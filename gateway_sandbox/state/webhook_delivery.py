"""Webhooks out: the delivery log and the sender that POSTs signed events to the partner.

Each event is signed like Contio does: ``X-Contio-Signature: sha256=<hex>``, the
HMAC-SHA256 of the raw body under the webhook secret. ``X-Contio-Timestamp`` carries the sandbox
clock's Unix seconds; Contio documents neither its format nor a tolerance.

Deliveries run on an event loop in a thread of the sender's own, started on the first event, so a
revocation never waits for the receiver, whether it came from a request or from a test's thread.
A delivery is tried once and then after each of ``SandboxOptions.webhook_retry_delays``; a 2xx
answer makes it ``delivered``, a failed try ``failed`` (with ``next_retry_at``), and the last
failed try ``abandoned``. ``retry`` queues an abandoned or delivered event once more.

Each outcome is reported to the ``WebhookSettings``, whose auto-disable rule may turn the webhook
off. While it is off, a delivery due for a try is held as ``pending`` (nothing is sent) until
``release`` delivers or abandons the held ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any
from uuid import UUID

import httpx

from gateway_sandbox.options import SandboxOptions
from gateway_sandbox.state.content_records import rfc3339
from gateway_sandbox.state.records import WebhookDelivery
from gateway_sandbox.state.webhook_settings import WebhookSettings
from gateway_sandbox.stats import Counters

TIMEOUT = httpx.Timeout(5.0)  # Contio asks receivers to answer within 5 s
DELIVERY_STATUSES = ("pending", "delivered", "failed", "abandoned")


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class DeliveryLog:
    """Every delivery, thread-safe; readers get copies. ``wait_for`` lets a test block until the
    log reaches a state instead of sleeping."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._deliveries: dict[UUID, WebhookDelivery] = {}

    def add(self, event_type: str, event_id: UUID, body: bytes) -> WebhookDelivery:
        record = WebhookDelivery(uuid.uuid4(), event_id, event_type, body, self._clock())
        with self._changed:
            self._deliveries[record.id] = record
            self._changed.notify_all()
            return replace(record)

    def get(self, delivery_id: UUID) -> WebhookDelivery | None:
        with self._changed:
            record = self._deliveries.get(delivery_id)
            return None if record is None else replace(record)

    def all(self) -> list[WebhookDelivery]:
        with self._changed:
            return [replace(record) for record in self._deliveries.values()]

    def update(self, delivery_id: UUID, **changes: Any) -> None:
        with self._changed:
            record = self._deliveries[delivery_id]
            for name, value in changes.items():
                setattr(record, name, value)
            self._changed.notify_all()

    def wait_for(
        self, condition: Callable[[list[WebhookDelivery]], bool], timeout: float = 5.0
    ) -> bool:
        """Block until ``condition(all deliveries)`` holds; False if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(
                lambda: condition([replace(r) for r in self._deliveries.values()]), timeout
            )


class WebhookSender:
    def __init__(
        self,
        options: SandboxOptions,
        log: DeliveryLog,
        counters: Counters,
        settings: WebhookSettings,
    ) -> None:
        self.options = options
        self.log = log
        self.counters = counters
        self.settings = settings
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_flight: set[UUID] = set()

    def submit(self, event_type: str, event_id: UUID, body: bytes) -> WebhookDelivery:
        """Log a new event and start delivering it, or hold it while the webhook is off."""
        with self._lock:
            record = self.log.add(event_type, event_id, body)
            if not self.settings.current().enabled:
                return record
            self._in_flight.add(record.id)
        self._schedule(record.id, is_retry=False)
        return record

    def retry(self, delivery_id: UUID) -> Future[None]:
        """Deliver a settled delivery once more, in the background; returns at once."""
        with self._lock:
            self.log.update(delivery_id, status="pending", next_retry_at=None)
            self._in_flight.add(delivery_id)
        return self._schedule(delivery_id, is_retry=True)

    def _schedule(self, delivery_id: UUID, is_retry: bool) -> Future[None]:
        """Deliver on the sender's own loop; callable from any thread, returns at once."""
        return asyncio.run_coroutine_threadsafe(
            self._deliver(delivery_id, is_retry), self._running_loop()
        )

    def release(self, *, deliver: bool) -> int:
        """Send (``deliver``) or abandon every held delivery; how many there were."""
        with self._lock:
            held = [
                record.id
                for record in self.log.all()
                if record.status == "pending" and record.id not in self._in_flight
            ]
            if deliver:
                self._in_flight.update(held)
        for delivery_id in held:
            if deliver:
                self._schedule(delivery_id, is_retry=False)
            else:
                reason = "Abandoned when the webhook was turned on again."
                self.log.update(delivery_id, status="abandoned", error_message=reason)
        return len(held)

    def close(self) -> None:
        """Cancel deliveries in flight and stop the thread (a no-op if none was started)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, daemon=True, name="sandbox-webhooks"
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _deliver(self, delivery_id: UUID, is_retry: bool) -> None:
        try:
            await self._tries(delivery_id, is_retry)
        finally:
            with self._lock:
                self._in_flight.discard(delivery_id)

    async def _tries(self, delivery_id: UUID, is_retry: bool) -> None:
        delays = (0.0, *self.options.webhook_retry_delays)
        for attempt, delay in enumerate(delays):
            await asyncio.sleep(delay)
            record = self.log.get(delivery_id)
            if record is None:
                return
            if not self.settings.current().enabled:
                with self._lock:
                    self.log.update(delivery_id, status="pending", next_retry_at=None)
                    self._in_flight.discard(delivery_id)
                return
            if attempt > 0 or is_retry:
                self.log.update(delivery_id, retry_count=record.retry_count + 1)
            if await self._attempt(record):
                self.settings.delivered()
                return
            self.settings.failed()
            last = attempt == len(delays) - 1
            self.log.update(
                delivery_id,
                status="abandoned" if last else "failed",
                next_retry_at=None if last else self._now() + delays[attempt + 1],
            )
            if last:
                self.settings.abandoned()

    def _now(self) -> float:
        return self.options.clock()

    async def _attempt(self, record: WebhookDelivery) -> bool:
        assert self.options.webhook_url is not None
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT)
        headers = {
            "Content-Type": "application/json",
            "X-Contio-Signature": signature(self.options.webhook_secret, record.body),
            "X-Contio-Timestamp": str(int(self._now())),
            "User-Agent": "contio-sandbox-webhooks",
        }
        try:
            response = await self._client.post(
                self.options.webhook_url, content=record.body, headers=headers
            )
        except httpx.HTTPError as exc:
            self.counters.add("webhooks_sent")
            self.log.update(record.id, http_status_code=None, error_message=type(exc).__name__)
            return False
        self.counters.add("webhooks_sent")
        if response.is_success:
            self.log.update(
                record.id,
                status="delivered",
                http_status_code=response.status_code,
                delivered_at=self._now(),
                next_retry_at=None,
                error_message=None,
            )
            return True
        self.log.update(
            record.id,
            http_status_code=response.status_code,
            error_message=f"The receiver answered HTTP {response.status_code}.",
        )
        return False


def delivery_json(record: WebhookDelivery, partner_app_id: UUID) -> dict[str, Any]:
    def moment(value: float | None) -> str | None:
        return None if value is None else rfc3339(value)

    return {
        "id": str(record.id),
        "partner_app_id": str(partner_app_id),
        "event_id": str(record.event_id),
        "event_type": record.event_type,
        "delivery_status": record.status,
        "http_status_code": record.http_status_code,
        "retry_count": record.retry_count,
        "next_retry_at": moment(record.next_retry_at),
        "delivered_at": moment(record.delivered_at),
        "error_message": record.error_message,
        "created_at": rfc3339(record.created_at),
    }

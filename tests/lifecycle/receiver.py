"""An internal service receiving the gateway's events: every delivery's Standard Webhooks
signature is checked with the gateway's own ``verify``, as a receiver would."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections import Counter
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.events.signing import SignatureError, verify
from tests.fixtures.servers import ServerThread


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class EventReceiver:
    """Runs on loopback in a thread. Events are kept once per ``webhook-id``: delivery is at least
    once. A delivery whose signature does not verify is refused (401) and counted in ``rejected``."""

    def __init__(self) -> None:
        self.secret = new_signing_secret()
        self._lock = threading.Lock()
        self._events: dict[str, dict[str, Any]] = {}
        self.rejected = 0
        app = Starlette(routes=[Route("/events", self._receive, methods=["POST"])])
        self._server = ServerThread(app)
        self.url = f"{self._server.url}/events"

    def start(self) -> EventReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            verify([self.secret], request.headers, body)
        except SignatureError:
            with self._lock:
                self.rejected += 1
            return Response(status_code=401)
        with self._lock:
            self._events[request.headers["webhook-id"]] = json.loads(body)
        return Response(status_code=204)

    def events(self, event_type: str, since: datetime | None = None) -> list[dict[str, Any]]:
        """Events of this type (that happened at or after ``since``)."""
        with self._lock:
            events = [event for event in self._events.values() if event["type"] == event_type]
        if since is None:
            return events
        return [event for event in events if _timestamp(event) >= since]

    def connection_ids(self, event_type: str, since: datetime | None = None) -> Counter[str]:
        """How many events of this type each connection got."""
        return Counter(event["data"]["connection_id"] for event in self.events(event_type, since))


def _timestamp(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))

"""A webhook receiver on loopback for the sandbox's outbound events, and a wait for deliveries."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.gateway_sandbox.driver import Sandbox

SECRET = "test-webhook-secret"


@dataclass
class Receiver:
    """Records every POST; answers each with the next of ``statuses`` (then 200)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def hook(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        self.arrived.set()
        status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"received": True}, status)

    def events(self) -> list[dict[str, Any]]:
        """The envelopes received, in arrival order."""
        return [json.loads(body) for _, body in self.received]


def settled(sandbox: Sandbox, count: int = 1) -> list[Any]:
    """Wait until ``count`` deliveries are delivered or abandoned; their admin JSON."""
    done = sandbox.store.deliveries.wait_for(
        lambda all_: sum(d.status in ("delivered", "abandoned") for d in all_) >= count
    )
    assert done, "webhook deliveries did not settle in time"
    deliveries: list[Any] = sandbox.admin("GET", "/webhook-deliveries", limit="100").json()[
        "deliveries"
    ]
    return deliveries

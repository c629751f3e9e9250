"""Counters of what the sandbox was asked to do, for tests that check how a client behaved.

- ``token_requests``: every request to the token endpoint, faulted ones included.
- ``code_exchanges`` / ``refresh_calls``: token requests with that grant type, faulted ones included.
- ``refresh_successes``: refreshes answered with tokens (a grace-period replay counts too).
- ``refresh_replays``: the replays among them.
- ``reuse_detections``: rotated refresh tokens presented again, each revoking its grant.
- ``revocations``: authenticated calls to the revocation endpoint.
- ``webhooks_sent``: webhook POST attempts, whatever their outcome.
"""

from __future__ import annotations

import threading

NAMES = (
    "refresh_calls",
    "refresh_successes",
    "refresh_replays",
    "reuse_detections",
    "revocations",
    "token_requests",
    "code_exchanges",
    "webhooks_sent",
)


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(NAMES, 0)

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(NAMES, 0)

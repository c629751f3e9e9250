"""Counters of what the sandbox was asked to do, for tests that check how a client behaved.

- ``token_requests``: every request to the token endpoint, faulted ones included.
- ``code_exchanges`` / ``refresh_calls``: token requests with that grant type, faulted ones included.
- ``refresh_successes``: refreshes answered with tokens (a grace-period replay counts too).
- ``refresh_replays``: the replays among them.
- ``reuse_detections``: rotated refresh tokens presented again, each revoking its grant.
- ``revocations``: authenticated calls to the revocation endpoint.
- ``webhooks_sent``: webhook POST attempts, whatever their outcome.
- ``executions``: mutating requests (POST, PUT, PATCH, DELETE) that reached an endpoint, outside
  ``/_sandbox/``; an idempotent replay, a rate-limited or an in-flight refusal did not.
- ``idempotent_replays``: responses replayed for a repeated ``Idempotency-Key``.
- ``responses_lost``: executed requests whose answer the ``lose_response`` fault dropped or
  replaced by a 502.
- ``rate_limited``: requests refused with 429 by the enforced rate limits.
- ``codes_sent`` / ``codes_verified``: one-time codes put in the outbox, and accepted.
- ``assertions_refused``: ``private_key_jwt`` client assertions refused (a replayed ``jti``, a bad
  signature, audience or expiry).
- ``client_credentials_exchanges``: requests to the client-credentials provider's token endpoint
  (``/app/oauth2/token``), faulted ones included (they count as ``token_requests`` too).
- ``end_sessions``: logouts at the ``end_session_endpoint`` (``oauth.logout``).

Besides, ``executions_by_route()`` counts executions per ``"METHOD /path"``, so a test can assert
that one particular call ran exactly once, and ``traceparents()`` holds the W3C ``traceparent``
headers executed requests carried (the newest ``TRACEPARENTS_KEPT``), so a test can see a client
continue its trace.
"""

from __future__ import annotations

import threading
from collections import Counter, deque

TRACEPARENTS_KEPT = 100

NAMES = (
    "refresh_calls",
    "refresh_successes",
    "refresh_replays",
    "reuse_detections",
    "revocations",
    "token_requests",
    "code_exchanges",
    "webhooks_sent",
    "executions",
    "idempotent_replays",
    "responses_lost",
    "rate_limited",
    "codes_sent",
    "codes_verified",
    "assertions_refused",
    "client_credentials_exchanges",
    "end_sessions",
)


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(NAMES, 0)
        self._routes: Counter[str] = Counter()
        self._traceparents: deque[str] = deque(maxlen=TRACEPARENTS_KEPT)

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def executed(self, method: str, path: str) -> None:
        with self._lock:
            self._counts["executions"] += 1
            self._routes[f"{method} {path}"] += 1

    def traced(self, traceparent: str) -> None:
        with self._lock:
            self._traceparents.append(traceparent)

    def traceparents(self) -> list[str]:
        with self._lock:
            return list(self._traceparents)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def executions_by_route(self) -> dict[str, int]:
        with self._lock:
            return dict(self._routes)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(NAMES, 0)
            self._routes.clear()
            self._traceparents.clear()

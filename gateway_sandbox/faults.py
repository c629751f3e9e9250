"""Fault switches: the ways the sandbox can misbehave on purpose, set at start or at runtime.

``Faults`` is one immutable setting; ``FaultSwitch`` holds the current one (thread-safe) and the
seeded random generator ``error_rate`` draws from, so a test with a fixed seed sees the same
sequence of failures every run. The token endpoint consults the switch; the latency also applies
to the user API (see ``LatencyMiddleware``); the rate limits and lost responses have middleware of
their own (``waf``, ``harness.lost``).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

LOSE_MODES = ("", "drop", "502")
ID_TOKEN_FAULTS = ("", "issuer", "audience", "nonce", "expired")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Faults:
    """What goes wrong. With every field at its default, nothing does.

    - ``latency_ms``: added to every token-endpoint and user-API response.
    - ``error_rate``: the share (0..1) of token-endpoint requests answered 503.
    - ``rate_limited``: the token endpoint answers 429 with ``Retry-After: retry_after``.
    - ``token_endpoint_down``: the token endpoint answers 503 to everything.
    - ``invalid_client``: the token endpoint answers 401 ``invalid_client`` to everything.
    - ``reject_access_tokens``: the user API answers 401 ``invalid_token`` to every access token,
      live ones included (a provider endpoint that always answers 401).
    - ``seed``: seeds the generator behind ``error_rate``.
    - ``enforce_rate_limits``: apply Contio's per-IP request limits (see ``waf``).
    - ``lose_response``: ``"drop"`` or ``"502"``: a mutating request (POST, PUT, PATCH, DELETE) whose
      path starts with ``lose_prefix`` is executed, then its answer is lost: the connection closes
      mid-response, or a 502 comes instead. ``lose_next`` > 0 limits it to that many requests,
      after which it switches itself off; 0 loses every one while it is on.
    - ``id_token_fault``: the ID tokens the token endpoint issues are wrong in one way, though
      validly signed: ``"issuer"`` (another ``iss``), ``"audience"`` (another ``aud``), ``"nonce"``
      (another ``nonce``), or ``"expired"`` (an ``exp`` an hour ago).
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    rate_limited: bool = False
    retry_after: int = 1
    token_endpoint_down: bool = False
    invalid_client: bool = False
    reject_access_tokens: bool = False
    seed: int = 0
    enforce_rate_limits: bool = False
    lose_response: str = ""
    lose_next: int = 0
    lose_prefix: str = "/v1/partner/"
    id_token_fault: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"{f.name} must be true or false")
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{f.name} must be an integer")
            if f.type == "float" and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ValueError(f"{f.name} must be a number")
            if f.type == "str" and not isinstance(value, str):
                raise ValueError(f"{f.name} must be a string")
        if self.latency_ms < 0 or self.retry_after < 0 or self.lose_next < 0:
            raise ValueError("latency_ms, retry_after and lose_next must not be negative")
        if self.lose_response not in LOSE_MODES:
            raise ValueError("lose_response must be one of: drop, 502 (or empty: off)")
        if self.id_token_fault not in ID_TOKEN_FAULTS:
            raise ValueError("id_token_fault must be one of: issuer, audience, nonce, expired")
        if not 0 <= self.error_rate <= 1:
            raise ValueError("error_rate must be between 0 and 1")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultSwitch:
    def __init__(self, initial: Faults) -> None:
        self._initial = initial
        self._lock = threading.Lock()
        self._current = initial
        self._random = random.Random(initial.seed)

    def current(self) -> Faults:
        with self._lock:
            return self._current

    def update(self, changes: dict[str, Any]) -> Faults:
        """Apply a partial update; ``ValueError`` for an unknown field or a bad value."""
        unknown = set(changes) - {f.name for f in fields(Faults)}
        if unknown:
            raise ValueError(f"unknown fault: {', '.join(sorted(unknown))}")
        with self._lock:
            self._current = replace(self._current, **changes)
            if "seed" in changes:
                self._random = random.Random(self._current.seed)
            return self._current

    def reset(self) -> Faults:
        with self._lock:
            self._current = self._initial
            self._random = random.Random(self._initial.seed)
            return self._current

    def draw_error(self) -> bool:
        """Whether this token request is one of the ``error_rate`` share that fails."""
        with self._lock:
            rate = self._current.error_rate
            return rate > 0 and self._random.random() < rate

    def take_lost_response(self, method: str, path: str) -> str | None:
        """``"drop"`` or ``"502"`` if this request's answer is to be lost (counting it against
        ``lose_next``), else ``None``."""
        with self._lock:
            current = self._current
            if not current.lose_response or method not in MUTATING:
                return None
            if not path.startswith(current.lose_prefix):
                return None
            if current.lose_next == 1:
                self._current = replace(current, lose_response="", lose_next=0)
            elif current.lose_next > 1:
                self._current = replace(current, lose_next=current.lose_next - 1)
            return current.lose_response

"""The partner app's webhook switches: on or off, the event filter, and the auto-disable rule.

Contio turns a partner's webhook off when 50 deliveries have been abandoned, or when more than 72 h
have passed since the last success while failures are recorded. The sandbox counts abandoned
deliveries since the last success (``SandboxOptions.webhook_disable_after_abandoned``) and measures
the 72 h (``webhook_disable_after_seconds``) from the first failed attempt after the last success,
so a quiet spell without events does not count as failing. While the webhook is off, events that
pass the filter are kept as ``pending`` deliveries; turning it on again either delivers or abandons
them (``pending_disposition``).

Thread-safe: the sender's thread reports outcomes while requests change the switches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

FilterType = Literal["include", "exclude"]
FILTER_TYPES: tuple[FilterType, ...] = ("include", "exclude")


@dataclass(frozen=True)
class EventFilter:
    type: FilterType
    events: tuple[str, ...]

    def admits(self, event_type: str) -> bool:
        return (event_type in self.events) == (self.type == "include")


@dataclass(frozen=True)
class WebhookState:
    """A snapshot: whether deliveries go out, the filter, and why the webhook was turned off."""

    enabled: bool
    event_filter: EventFilter | None
    updated_at: float
    disabled_reason: str | None


class WebhookSettings:
    def __init__(
        self, clock: Callable[[], float], disable_after_abandoned: int, disable_after_seconds: float
    ) -> None:
        self._clock = clock
        self._disable_after_abandoned = disable_after_abandoned
        self._disable_after_seconds = disable_after_seconds
        self._lock = threading.Lock()
        self._state = WebhookState(True, None, clock(), None)
        self._abandoned = 0
        self._failing_since: float | None = None

    def current(self) -> WebhookState:
        with self._lock:
            return self._state

    def admits(self, event_type: str) -> bool:
        found = self.current().event_filter
        return found is None or found.admits(event_type)

    def set_filter(self, event_filter: EventFilter | None) -> WebhookState:
        with self._lock:
            return self._change(event_filter=event_filter)

    def set_enabled(self, enabled: bool) -> WebhookState:
        """Turn deliveries on or off by hand; turning them on forgets the failures counted."""
        with self._lock:
            if enabled:
                self._abandoned, self._failing_since = 0, None
            reason = None if enabled else "turned off through the admin API"
            return self._change(enabled=enabled, disabled_reason=reason)

    def delivered(self) -> None:
        with self._lock:
            self._abandoned, self._failing_since = 0, None

    def failed(self) -> None:
        """One attempt failed; may turn the webhook off (failing for too long)."""
        with self._lock:
            now = self._clock()
            if self._failing_since is None:
                self._failing_since = now
            elif now - self._failing_since > self._disable_after_seconds and self._state.enabled:
                hours = self._disable_after_seconds / 3600
                self._change(enabled=False, disabled_reason=f"failing for over {hours:g} h")

    def abandoned(self) -> None:
        """A delivery was abandoned; may turn the webhook off (too many abandoned)."""
        with self._lock:
            self._abandoned += 1
            if self._abandoned >= self._disable_after_abandoned and self._state.enabled:
                reason = f"{self._abandoned} deliveries abandoned since the last success"
                self._change(enabled=False, disabled_reason=reason)

    def _change(self, **changes: Any) -> WebhookState:
        self._state = replace(self._state, updated_at=self._clock(), **changes)
        return self._state

"""Reloading the providers (the providers file, re-read) into a running process's registry.

Every part of a process (connect, refresh, revocation, the proxy) looks its provider up in the one
``ProviderRegistry`` by name each time, so replacing the registry's contents is enough: the next
lookup sees the new configuration. A file that does not load is refused, logged with the reason
(naming the provider and the field), and the registry keeps what it had.

Triggers: ``SIGHUP`` to a ``gateway serve`` process, and a notification on ``CHANNEL`` that every
replica listens to (``gateway providers reload`` sends it after checking the file itself).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.providers.registry import ProviderRegistry
from gateway.settings import SettingsError

log = logging.getLogger(__name__)

CHANNEL = "gateway_providers_reload"


class ProvidersReload:
    """Rebuilds the providers with ``build`` and puts them into ``registry``."""

    def __init__(self, registry: ProviderRegistry, build: Callable[[], ProviderRegistry]) -> None:
        self._registry = registry
        self._build = build

    def reload(self, trigger: str) -> None:
        """Reload the providers; on a bad file the previous ones stay (and the reason is logged)."""
        try:
            fresh = self._build()
        except SettingsError as exc:
            log.error("providers not reloaded on %s, the previous ones stay: %s", trigger, exc)
            return
        self._registry.replace(fresh)
        log.info("providers reloaded on %s: %s", trigger, ", ".join(fresh.names) or "none")


async def notify_replicas(session: AsyncSession) -> None:
    """Ask every running replica to reload its providers (sent when the transaction commits)."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})

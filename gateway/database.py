"""Which database the gateway uses: ``GATEWAY_DATABASE_URL``, or else an embedded one it migrates."""

from __future__ import annotations

from sqlalchemy.engine import URL

from gateway.kit.db import async_url
from gateway.kit.embedded import EmbeddedPostgres
from gateway.kit.migrations import upgrade
from gateway.settings import Settings


def database_url(settings: Settings, *, migrate_embedded: bool) -> URL:
    """The configured database; without one, start the embedded server (migrating it if asked)."""
    if settings.database_url is not None:
        return async_url(settings.database_url.get_secret_value())
    url = async_url(EmbeddedPostgres(settings.data_dir).start())
    if migrate_embedded:
        upgrade(url)
    return url

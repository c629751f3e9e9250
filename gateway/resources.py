"""What the lifespan builds and every handler reaches through ``request.state`` (the proxy's own
state is beside it, under ``proxy``: only the proxy's endpoint and front door reach it)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.requests import Request

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.kit.feed import ChangeFeed
from gateway.metrics import Metrics
from gateway.metrics.cluster import ClusterReads
from gateway.metrics.siblings import Siblings
from gateway.providers.client import OAuthClient
from gateway.providers.registry import ProviderRegistry
from gateway.settings import Settings
from gateway.tokens.refresher import Refresher


@dataclass(frozen=True)
class Resources:
    settings: Settings
    db: Database
    keys: KeyRing
    http: httpx.AsyncClient
    providers: ProviderRegistry
    refresher: Refresher
    metrics: Metrics
    # The cluster's gauges last read for ``/metrics``, and the read in flight.
    cluster: ClusterReads
    # The process's change feed, whose state ``/readyz`` reports.
    feed: ChangeFeed
    schema_head: str | None
    # The identity provider operators sign in to the console with; None: not configured.
    console_idp: OAuthClient | None = None
    # The machine's other serving processes (``gateway serve --workers``); None: it serves alone.
    siblings: Siblings | None = None


def resources(request: Request) -> Resources:
    found: Resources = request.state.resources
    return found
